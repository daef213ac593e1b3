package proxy

import "strings"

// baseEnvKeys is the small environment the MCP SDKs pass to stdio servers
// by default on Windows (theirs, plus PATHEXT, COMSPEC, WINDIR and TMP,
// which npx.cmd and node's child processes read); anything else must be
// in the server's "env". Without SYSTEMROOT many programs cannot even
// open a socket.
var baseEnvKeys = []string{
	"APPDATA", "HOMEDRIVE", "HOMEPATH", "LOCALAPPDATA", "PATH", "PATHEXT",
	"PROCESSOR_ARCHITECTURE", "SYSTEMDRIVE", "SYSTEMROOT", "TEMP", "TMP",
	"USERNAME", "USERPROFILE", "PROGRAMFILES", "COMSPEC", "WINDIR",
}

// sameEnvKey: Windows variable names are case-insensitive (Path is PATH).
func sameEnvKey(a, b string) bool { return strings.EqualFold(a, b) }
