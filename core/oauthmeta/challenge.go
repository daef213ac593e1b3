package oauthmeta

import (
	"strings"
)

// Challenge is a parsed WWW-Authenticate value: the schemes it offers,
// and the parameters of its Bearer challenge (else of its DPoP one).
type Challenge struct {
	// ResourceMetadata is the RFC 9728 resource_metadata URL, if given.
	ResourceMetadata string
	// Scope is the scope the server asks for, if given.
	Scope string
	// Error is the RFC 6750 error code (invalid_token, insufficient_scope).
	Error string
	// Bearer and DPoP say which token kinds the server offers: a
	// challenge of that scheme is present (RFC 6750, RFC 9449 §7.1).
	Bearer, DPoP bool
	// DPoPAlgs is the DPoP challenge's algs parameter: the proof
	// algorithms the server accepts, space-separated ("" when not given).
	DPoPAlgs string
}

// ParseChallenge reads a WWW-Authenticate value. The parameters come from
// the Bearer challenge, else from the DPoP one: a server that takes only
// DPoP-bound tokens names its metadata there. Other schemes and unknown
// parameters are ignored.
func ParseChallenge(header string) Challenge {
	var c Challenge
	var bearer, dpop map[string]string
	for _, ch := range splitChallenges(header) {
		scheme, params, _ := strings.Cut(strings.TrimSpace(ch), " ")
		switch {
		case strings.EqualFold(scheme, "Bearer") && !c.Bearer:
			c.Bearer, bearer = true, parseParams(params)
		case strings.EqualFold(scheme, "DPoP") && !c.DPoP:
			c.DPoP, dpop = true, parseParams(params)
		}
	}
	for k, v := range dpop {
		if strings.EqualFold(k, "algs") {
			c.DPoPAlgs = v
		}
	}
	params := bearer
	if !c.Bearer {
		params = dpop
	}
	for k, v := range params {
		switch strings.ToLower(k) {
		case "resource_metadata":
			c.ResourceMetadata = v
		case "scope":
			c.Scope = v
		case "error":
			c.Error = v
		}
	}
	return c
}

// splitChallenges splits a header holding several challenges (RFC 9110
// §11.6.1) at the commas that start a new scheme: those followed by a
// token that no "=" follows (a parameter's name is followed by one). A
// comma inside a quoted string, where a backslash escapes the next
// character, splits nothing.
func splitChallenges(h string) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case inQuote && c == '\\':
			i++ // the escaped character, whatever it is
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote && startsChallenge(h[i+1:]):
			out = append(out, h[start:i])
			start = i + 1
		}
	}
	return append(out, h[start:])
}

// startsChallenge reports whether rest, what follows a comma, starts a new
// challenge: a token, then the end, a space, or a comma, not "=".
func startsChallenge(rest string) bool {
	rest = strings.TrimLeft(rest, " \t")
	n := strings.IndexAny(rest, " \t=,")
	if n == 0 {
		return false // another comma (an empty list element), or "="
	}
	if n < 0 {
		return rest != ""
	}
	return strings.TrimLeft(rest[n:], " \t")[0] != '='
}

// parseParams reads auth-params: name=token or name="quoted string".
func parseParams(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimLeft(s, " ,") {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		name := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " ")
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					b.WriteByte(s[i])
					continue
				}
				if s[i] == '"' {
					break
				}
				b.WriteByte(s[i])
			}
			val = b.String()
			s = s[min(i+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		out[name] = val
	}
	return out
}
