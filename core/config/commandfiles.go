package config

import "strings"

// withPathext is what Windows may run for the command path p: p itself,
// then p with each extension of pathext (";"-separated, as PATHEXT), in
// that order (plugins/transport-stdio's lookup does the same).
func withPathext(p, pathext string) []string {
	if pathext == "" {
		pathext = ".COM;.EXE;.BAT;.CMD"
	}
	out := []string{p}
	for _, ext := range strings.Split(strings.ToLower(pathext), ";") {
		if ext == "" {
			continue
		}
		if ext[0] != '.' {
			ext = "." + ext
		}
		out = append(out, p+ext)
	}
	return out
}
