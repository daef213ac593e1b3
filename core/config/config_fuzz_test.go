package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: any project file content loads without a panic; a file that
// is not usable is reported under its source, naming the file, and never
// yields servers.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		`{"mcpServers":{"a":{"command":"x","args":["-y"],"env":{"K":"${HOME}"}}}}`,
		`{"a":{"url":"https://x.example/mcp","headers":{"H":"${A:-b}"},"type":"sse"}}`,
		`{"mcpServers":{"a":{"command":1}}}`,
		"{\"mcpServers\":\n{\"a\":}",
		`{"Method":"x","mcpServers":[]}`,
		"\xef\xbb\xbf{}",
		`{"mcpServers":{"a":{"command":"x","oauth":{"flow":"exec","options":{"command":["${X}"]}},"options":{"k":1}}}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content string) {
		cwd := t.TempDir()
		path := filepath.Join(cwd, ProjectFile)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := Load(Options{Cwd: cwd, Home: filepath.Join(cwd, "home"), LookupEnv: func(k string) (string, bool) {
			return "v", k == "HOME"
		}})
		src := cfg.Sources[0]
		if src.Error != "" {
			if !strings.Contains(src.Error, path) {
				t.Fatalf("the error does not name the file: %q", src.Error)
			}
			for _, s := range cfg.Servers {
				if s.Source == SourceProject {
					t.Fatalf("servers from a file that did not load: %+v", s)
				}
			}
		}
		for _, s := range cfg.Servers {
			if s.Error == "" && s.Type == "" {
				t.Fatalf("server %q is usable but has no transport", s.Name)
			}
		}
	})
}

// FuzzExpand: ${VAR} expansion never panics, leaves strings without "${"
// alone, and only ever inserts values it was given.
func FuzzExpand(f *testing.F) {
	for _, seed := range []string{"${A}", "x${A:-d}y", "${", "${}", "${A:-${B}}", "$${A}}", "${\x00}"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := Expand(s, func(k string) (string, bool) {
			if k == "A" {
				return "<A>", true
			}
			return "", false
		})
		if !strings.Contains(s, "${") && out != s {
			t.Fatalf("Expand(%q) = %q", s, out)
		}
		if strings.Count(out, "<A>") > strings.Count(s, "<A>")+strings.Count(s, "${A") {
			t.Fatalf("Expand(%q) = %q inserts a value it was not asked for", s, out)
		}
	})
}
