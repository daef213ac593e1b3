package sdk

import (
	"strconv"
	"strings"
	"unicode"
)

// logName is a server's name as a logger's name. hclog writes a logger's
// name to the terminal as it is (values it quotes), and a server's name is
// whatever a config file (a cloned repository's, say) made it: control
// and format characters are escaped, as strconv.Quote writes them.
func logName(server string) string {
	if strings.IndexFunc(server, func(r rune) bool { return !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) }) < 0 {
		return server
	}
	q := strconv.QuoteToASCII(server)
	return q[1 : len(q)-1]
}
