// Package redact takes secrets out of what the proxy shows: a URL may
// carry a token in its userinfo or query (an api key written into a
// server's url), and the URL turns up in config listings, errors and logs.
// The core and the bundled transports share it.
package redact

import "strings"

// Mark is what stands in place of a secret.
const Mark = "REDACTED"

// URL replaces a URL's userinfo and the values of its query with
// Mark, keeping the rest as written (${VAR} included).
func URL(raw string) string {
	rest, frag, hasFrag := strings.Cut(raw, "#")
	base, query, hasQuery := strings.Cut(rest, "?")
	if scheme, after, ok := strings.Cut(base, "://"); ok {
		authority, path, hasPath := strings.Cut(after, "/")
		if i := strings.LastIndexByte(authority, '@'); i >= 0 {
			authority = Mark + authority[i:]
		}
		base = scheme + "://" + authority
		if hasPath {
			base += "/" + path
		}
	}
	out := base
	if hasQuery {
		params := strings.Split(query, "&")
		for i, kv := range params {
			if k, _, ok := strings.Cut(kv, "="); ok {
				params[i] = k + "=" + Mark
			}
		}
		out += "?" + strings.Join(params, "&")
	}
	if hasFrag {
		out += "#" + frag
	}
	return out
}
