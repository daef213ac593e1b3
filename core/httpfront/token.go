package httpfront

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/atomicfile"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// TokenFile is the bearer token's file in $ICA_HOME.
const TokenFile = "http-token"

// LoadToken returns the bearer token kept in home, making one (0600) the
// first time. A token file others could read or write is refused: whoever
// holds the token acts as the user, with the user's logins.
func LoadToken(home string) (string, error) {
	path := filepath.Join(home, TokenFile)
	data, err := safefile.Read(path, safefile.Rules{Max: 4096, Private: true})
	switch {
	case err == nil:
		// Read checked who may write it; a secret must be unreadable too.
		if fi, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("bearer token: %w", err)
		} else if err := safefile.Check(path, fi, true); err != nil {
			return "", fmt.Errorf("bearer token: %w", err)
		}
		tok := strings.TrimSpace(string(data))
		if len(tok) < 32 {
			return "", fmt.Errorf("%s: the token is %d characters; delete the file for a new one", path, len(tok))
		}
		return tok, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("bearer token: %w", err)
	}
	if err := safefile.MkdirPrivate(home); err != nil {
		return "", fmt.Errorf("bearer token: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("bearer token: %w", err)
	}
	return tok, nil
}

// bearerOK says whether an Authorization header carries token, in time
// that does not depend on how much of it matches.
func bearerOK(header, token string) bool {
	scheme, got, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}
