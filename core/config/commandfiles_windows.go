package config

import "os"

// commandFiles is what a command named by its path may run: on Windows,
// the path with each PATHEXT extension too.
func commandFiles(p string) []string { return withPathext(p, os.Getenv("PATHEXT")) }
