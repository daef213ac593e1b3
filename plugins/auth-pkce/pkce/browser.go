package pkce

import (
	"fmt"
	"net/url"
	"strings"
)

// openBrowser hands an authorization URL to the system's URL opener
// (startBrowser, per system), never through a shell. Only http and https
// URLs are opened: the URL comes from an authorization server's metadata,
// and the openers would run whatever a file: or custom-scheme URL names.
func openBrowser(u string) error {
	if err := openable(u); err != nil {
		return err
	}
	return startBrowser(u)
}

// openable refuses what is not an http(s) URL with a host, or holds what
// an encoded URL never does (spaces, quotes, backslashes, controls):
// characters that mean something to command lines and shells.
func openable(raw string) error {
	if i := strings.IndexFunc(raw, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune("\"'`<>^|\\", r)
	}); i >= 0 {
		return fmt.Errorf("not opening %q in a browser: %q is never unescaped in a URL", raw, raw[i])
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not opening %q in a browser: %w", raw, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("not opening %q in a browser: only http and https URLs are opened", raw)
	}
	return nil
}
