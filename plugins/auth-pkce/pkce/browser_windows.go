package pkce

import (
	"golang.org/x/sys/windows"
)

// startBrowser asks the shell to open the URL with the user's browser
// (ShellExecute, as rundll32's FileProtocolHandler does), without a
// command line to parse.
func startBrowser(u string) error {
	verb, err := windows.UTF16PtrFromString("open")
	if err != nil {
		return err
	}
	target, err := windows.UTF16PtrFromString(u)
	if err != nil {
		return err
	}
	return windows.ShellExecute(0, verb, target, nil, nil, windows.SW_SHOWNORMAL)
}
