package sdk

import "strings"

// TrimExe is a plugin's file name without the ".exe" Windows executables
// carry (any case): ica-plugin-<kind>-<name> on every system.
func TrimExe(file string) string {
	if n := len(file) - len(".exe"); n > 0 && strings.EqualFold(file[n:], ".exe") {
		return file[:n]
	}
	return file
}
