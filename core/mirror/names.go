package mirror

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
)

// MaxNameLen is the longest tool name the proxy exposes; several clients
// refuse longer ones.
const MaxNameLen = 64

// hashLen is the length of the stable suffix that replaces a cut tail.
const hashLen = 8

// Sanitize replaces every character outside [A-Za-z0-9_.-] with '_'. When
// the separator is not ".", dots go too: a client that needs another
// separator refuses dots anywhere.
func Sanitize(s, sep string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		if !settings.IsNameChar(c) || (c == '.' && sep != ".") {
			c = '_'
		}
		b.WriteRune(c)
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// Join builds the exposed name of tool on server, cut to MaxNameLen with a
// stable hash suffix when longer.
func Join(server, tool, sep string) string {
	name := Sanitize(server, sep) + sep + Sanitize(tool, sep)
	if len(name) <= MaxNameLen {
		return name
	}
	return Hashed(name, server, tool)
}

// Hashed returns name cut to fit a "-<hash>" suffix derived from the
// original server and tool names, so the result is stable across runs and
// distinct for distinct tools.
func Hashed(name, server, tool string) string {
	sum := sha256.Sum256([]byte(server + "\x00" + tool))
	suffix := "-" + hex.EncodeToString(sum[:])[:hashLen]
	if max := MaxNameLen - len(suffix); len(name) > max {
		name = name[:max]
	}
	return name + suffix
}
