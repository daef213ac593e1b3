package config

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/redact"
)

// What the proxy shows of an entry (in proxy.list_servers, mirror_status,
// errors, logs and the CLI) is the config as written: ${VAR} stays
// unexpanded, so a secret in the user's environment never reaches a model
// or a log. A URL's userinfo and query values are redacted even when
// written literally, since tokens are put there.

// Written is an entry's command line and URL as written, and the key
// that gave its prefix ("prefix" or "tool_prefix", for messages).
type Written struct {
	Command   string
	Args      []string
	URL       string
	PrefixKey string
}

func written(fields map[string]json.RawMessage) Written {
	var w Written
	_ = json.Unmarshal(fields["command"], &w.Command)
	_ = json.Unmarshal(fields["args"], &w.Args)
	_ = json.Unmarshal(fields["url"], &w.URL)
	for _, k := range []string{"tool_prefix", "prefix"} {
		if _, ok := fields[k]; ok {
			w.PrefixKey = k
		}
	}
	return w
}

// Redacted is the mark put in place of a secret.
const Redacted = redact.Mark

// DisplayURL is the entry's URL as written, with userinfo and query
// values redacted.
func (s *Server) DisplayURL() string { return RedactURL(s.Written.URL) }

// DisplayCommand is the entry's command line as written, or nil.
func (s *Server) DisplayCommand() []string {
	if s.Written.Command == "" {
		return nil
	}
	return append([]string{s.Written.Command}, s.Written.Args...)
}

// RedactURL replaces a URL's userinfo and the values of its query with
// Redacted, keeping the rest as written (${VAR} included).
func RedactURL(raw string) string { return redact.URL(raw) }

// Redact takes the entry's secrets out of msg (an error from its
// transport, say): each value a ${VAR} of the entry expanded to becomes
// ${VAR} again, and the userinfo and query values of its URL, written
// literally or not, become Redacted.
func (s *Server) Redact(msg string) string {
	names := make([]string, 0, len(s.expanded))
	for name := range s.expanded {
		names = append(names, name)
	}
	// Longest values first, so that one value inside another is not cut
	// in two.
	sort.Slice(names, func(i, j int) bool { return len(s.expanded[names[i]]) > len(s.expanded[names[j]]) })
	for _, name := range names {
		if v := s.expanded[name]; len(v) >= minSecret {
			msg = strings.ReplaceAll(msg, v, "${"+name+"}")
		}
	}
	for _, v := range urlSecrets(s.URL) {
		if len(v) >= minSecret {
			msg = strings.ReplaceAll(msg, v, Redacted)
		}
	}
	return msg
}

// minSecret is the shortest value Redact replaces: a shorter one ("1",
// "on") would turn up everywhere and is no secret.
const minSecret = 4

// urlSecrets are the password and the query values of a URL, raw and
// escaped (net/http writes the URL escaped).
func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw, url.QueryEscape(pw))
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			out = append(out, v, url.QueryEscape(v), url.PathEscape(v))
		}
	}
	// And as written, however it was escaped.
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if _, v, ok := strings.Cut(kv, "="); ok {
			out = append(out, v)
		}
	}
	return out
}
