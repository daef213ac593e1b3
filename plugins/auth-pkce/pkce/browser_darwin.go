package pkce

import "os/exec"

// startBrowser runs open(1) with the URL as its one argument.
func startBrowser(u string) error { return startDetached(exec.Command("open", u)) }
