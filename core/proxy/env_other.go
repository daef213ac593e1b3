//go:build !windows

package proxy

// baseEnvKeys is the small environment the MCP SDKs pass to stdio servers
// by default on unix; anything else must be in the server's "env".
var baseEnvKeys = []string{"HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "TMPDIR", "LANG", "LANGUAGE", "TZ"}

// sameEnvKey: unix variable names are case-sensitive.
func sameEnvKey(a, b string) bool { return a == b }
