package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoServerLibraryInTheBinary: the proxy answers its client itself
// (core/frontend), and mcp-go's server package, which every process of
// the one executable paid for at start (docs/benchmarks.md, "Footprint
// and lazy start"), must not creep back in through an import.
func TestNoServerLibraryInTheBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/mark3labs/mcp-go/server") || strings.HasPrefix(pkg, "github.com/mark3labs/mcp-go/client") {
			t.Errorf("the binary depends on %s", pkg)
		}
	}
}
