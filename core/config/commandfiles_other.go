//go:build !windows

package config

// commandFiles is what a command named by its path may run: on unix, the
// file it names.
func commandFiles(p string) []string { return []string{p} }
