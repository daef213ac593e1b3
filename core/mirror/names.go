package mirror

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
)

// MaxNameLen is the longest tool name the proxy exposes by default;
// several clients refuse longer ones. Limits.MaxNameLen sets another.
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

// Join builds the exposed name of tool on server, cut to max (MaxNameLen
// when 0) with a stable hash suffix when longer.
func Join(server, tool, sep string, max int) string {
	name := Sanitize(server, sep) + sep + Sanitize(tool, sep)
	if len(name) <= nameMax(max) {
		return name
	}
	return Hashed(name, server, tool, max)
}

func nameMax(max int) int {
	if max <= 0 {
		return MaxNameLen
	}
	return max
}

// Hashed returns name cut to fit a "-<hash>" suffix derived from the
// original server and tool names within max (MaxNameLen when 0), so the
// result is stable across runs and distinct for distinct tools.
func Hashed(name, server, tool string, max int) string {
	sum := sha256.Sum256([]byte(server + "\x00" + tool))
	suffix := "-" + hex.EncodeToString(sum[:])[:hashLen]
	if keep := nameMax(max) - len(suffix); len(name) > keep {
		name = name[:keep]
	}
	return name + suffix
}
