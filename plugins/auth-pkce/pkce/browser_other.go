//go:build !darwin && !windows

package pkce

import "os/exec"

// startBrowser runs xdg-open with the URL as its one argument.
func startBrowser(u string) error { return startDetached(exec.Command("xdg-open", u)) }
