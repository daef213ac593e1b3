package frontend

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// The requestState the proxy gives a 2026-07-28 client with an
// input_required result comes back on the client's retry, and the client
// is not trusted with it (the revision says to treat it as
// attacker-controlled). It names the held exchange and its round, binds
// them to the request that started it (method, and a digest of its tool
// or resource and arguments), expires with the request timeout, and is
// signed with HMAC-SHA256 under a key made when the process starts: a
// state from another proxy, another request, an earlier round or an
// earlier run is refused.

// statePrefix marks the proxy's own states; a state without it belongs to
// a stateless upstream and goes to it untouched.
const statePrefix = "ica1."

type stateSigner struct{ key []byte }

func newStateSigner() stateSigner {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("frontend: no randomness for the requestState key: " + err.Error())
	}
	return stateSigner{key: key}
}

// heldState is what a requestState says.
type heldState struct {
	Exchange uint64 `json:"x"`
	Round    int    `json:"r"`
	Binding  string `json:"b"`
	Expires  int64  `json:"e"` // Unix milliseconds
}

func (s stateSigner) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)
}

func (s stateSigner) seal(st heldState) string {
	payload, _ := json.Marshal(st)
	enc := base64.RawURLEncoding
	return statePrefix + enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(payload))
}

var (
	errStateForged  = errors.New("requestState failed verification: it was not issued by this proxy, or was altered")
	errStateExpired = errors.New("requestState expired: the request it continues has ended; send it again without inputResponses")
)

// verify checks a requestState and returns what it says.
func (s stateSigner) verify(token string, now time.Time) (heldState, error) {
	rest, ok := strings.CutPrefix(token, statePrefix)
	payloadB64, macB64, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return heldState{}, errStateForged
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(payloadB64)
	mac, err2 := enc.DecodeString(macB64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(payload)) {
		return heldState{}, errStateForged
	}
	// The decoder skips CR and LF and ignores stray trailing bits, so
	// other strings decode to the same bytes: only the one the proxy
	// wrote is its token.
	if enc.EncodeToString(payload) != payloadB64 || enc.EncodeToString(mac) != macB64 {
		return heldState{}, errStateForged
	}
	var st heldState
	if err := json.Unmarshal(payload, &st); err != nil {
		return heldState{}, errStateForged
	}
	if now.UnixMilli() > st.Expires {
		return heldState{}, errStateExpired
	}
	return st, nil
}

// binding is the digest a requestState is bound to: the method, what it
// names (a tool, prompt or resource) and its arguments, whitespace aside.
func binding(method string, params json.RawMessage) string {
	r := gjson.GetManyBytes(params, "name", "uri", "arguments")
	h := sha256.New()
	_, _ = fmt.Fprintf(h, "%s\x00%s\x00%s\x00", method, r[0].Str, r[1].Str)
	if r[2].Exists() {
		var compact bytes.Buffer
		if json.Compact(&compact, []byte(r[2].Raw)) == nil {
			h.Write(compact.Bytes())
		}
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}
