package stdio

import (
	"fmt"
	"regexp"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// A message over sdk.MaxMessageBytes cannot cross to the proxy. When it is
// an answer, the caller would wait for it until its timeout; instead the
// plugin answers in the upstream's place with an error saying why, as soon
// as the line has gone by. The id is found in the first few KiB (most SDKs
// write it before the result) or at the very end (the TypeScript SDK
// writes it after): there, a single closing brace after it shows it is a
// member of the message itself, not of something nested in the result.
var trailingID = regexp.MustCompile(`"id"\s*:\s*(-?[0-9]+|"(?:[^"\\]|\\.)*")\s*\}\s*$`)

// overlongID finds the id of an answer that was too long; ok is false for
// a request or notification, or when the id cannot be told.
func overlongID(o overlong) (string, bool) {
	if len(o.head) == 0 || o.head[0] != '{' {
		return "", false
	}
	if gjson.GetBytes(o.head, "method").Exists() {
		return "", false
	}
	if id := gjson.GetBytes(o.head, "id"); id.Exists() && (id.Type == gjson.Number || id.Type == gjson.String) {
		return id.Raw, true
	}
	if m := trailingID.FindSubmatch(o.tail); m != nil {
		return string(m[1]), true
	}
	return "", false
}

// onOverlong answers, for the upstream, the request whose answer was too
// long to pass on.
func (s *session) onOverlong(o overlong) {
	id, ok := overlongID(o)
	if !ok {
		return
	}
	msg := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32603,"message":"the upstream's answer is %.1f MiB, over the %d MiB a message may be; ica-mcp-proxy dropped it"}}`,
		id, float64(o.size)/(1<<20), sdk.MaxMessageBytes>>20)
	if err := s.peer.Deliver([]byte(msg)); err != nil {
		s.logger.Debug("could not deliver messages", "error", err)
	}
}
