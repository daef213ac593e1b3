package config

import "github.com/ica-mcp-proxy/ica-mcp-proxy/internal/pathext"

// withPathext is what Windows may run for the command path p: p itself,
// then p with each extension of pathext, in that order (as the stdio
// transport's lookup tries them).
func withPathext(p, exts string) []string {
	out := []string{p}
	for _, ext := range pathext.Split(exts) {
		out = append(out, p+ext)
	}
	return out
}
