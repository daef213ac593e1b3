package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// What an entry may do before its project is trusted. A project's
// .mcp.json is anyone's (a cloned repository's), so until the user trusts
// it an entry may only name a remote server by a literal URL, with literal
// headers and a plain login (a client_id, scopes, and the browser or
// device flow, which run nothing here). Everything else could start a
// process, read a file, read the user's environment, load a plugin or take
// a name, and waits for trust.

// plainOAuthKeys are the login settings an untrusted project may give.
var plainOAuthKeys = map[string]bool{"client_id": true, "scopes": true, "flow": true, "type": true}

// plainFlows are the spellings of the bundled flows that start nothing
// on this machine but a browser the proxy opens itself.
var plainFlows = map[string]bool{
	"": true, "pkce": true, "authorization_code": true, "auth_code": true, "browser": true,
	"device": true, "device_code": true, "device_authorization": true,
}

// PlainFlow says whether flow names a login that starts nothing on this
// machine but the browser the proxy opens (pkce, or the device flow).
func PlainFlow(flow string) bool {
	return plainFlows[strings.ToLower(strings.ReplaceAll(flow, "-", "_"))]
}

// Untrusted lists what the entry uses that a project may not use before
// it is trusted, each named as the config writes it; empty when the entry
// may run untrusted.
func (s *Server) Untrusted() []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	if s.Command != "" {
		add("command")
	}
	if s.Cwd != "" {
		add("cwd")
	}
	if len(s.Env) > 0 {
		add("env")
	}
	if s.InheritEnv {
		add("inherit_env")
	}
	if s.Type != "" && s.Type != TypeStdio && s.Type != TypeHTTP && s.Type != TypeSSE {
		add("type %q (a transport plugin)", s.Redact(s.Type))
	}
	if len(s.Options) > 0 {
		add("options")
	}
	if s.Prefix != nil {
		add("%s", s.Written.PrefixKey)
	}
	if s.AllowHTTP {
		add("allow_http")
	}
	if host := urlHost(s.URL); host != "" && isLocalHost(host) {
		// Services on this machine or its network trust their callers
		// more than the internet: a repository must not aim requests at
		// them (with its own path, query and headers) before trust.
		add("a url on this machine or a private network (%s)", host)
	}
	if len(s.EnvRefs) > 0 {
		add("${%s} (the value would be sent to %s)", strings.Join(s.EnvRefs, "}, ${"), s.DisplayURL())
	}
	out = append(out, untrustedOAuth(s.OAuth)...)
	return out
}

func untrustedOAuth(raw json.RawMessage) []string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(raw, &o); err != nil {
		return []string{"oauth (not an object)"}
	}
	var out []string
	for k, v := range o {
		switch {
		case !plainOAuthKeys[k]:
			out = append(out, "oauth."+k)
		case k == "flow" || k == "type":
			var flow string
			_ = json.Unmarshal(v, &flow)
			if !plainFlows[strings.ToLower(strings.ReplaceAll(flow, "-", "_"))] {
				out = append(out, fmt.Sprintf("oauth.%s %q", k, flow))
			}
		}
	}
	sort.Strings(out)
	return out
}

// Exec is what an entry would start or read on this machine, for a user
// to review before trusting the project that names it.
type Exec struct {
	// Commands are the command lines it would run: the server's own, and
	// any a login would run (options named *_command).
	Commands [][]string `json:"commands,omitempty"`
	// Files are the local files a login would read (options named *_file).
	Files []string `json:"files,omitempty"`
	// Cwd is the folder the server would run in.
	Cwd string `json:"cwd,omitempty"`
	// Env are the names of the variables set for it.
	Env []string `json:"env,omitempty"`
	// Plugins are the third-party plugins it would load, with their
	// options as written.
	Plugins []string `json:"plugins,omitempty"`
}

// Exec says what the entry would run and read, for a person to review;
// projectDir is where a stdio server without "cwd" runs. The values of the
// user's variables are shown as ${VAR}.
func (s *Server) Exec(projectDir string) Exec {
	x := s.exec(projectDir)
	// What is shown must not carry the values of the user's variables
	// (the reviewer may be a model reading trust-status).
	for _, argv := range x.Commands {
		for i := range argv {
			argv[i] = s.Redact(argv[i])
		}
	}
	for i := range x.Files {
		x.Files[i] = s.Redact(x.Files[i])
	}
	for i := range x.Plugins {
		x.Plugins[i] = s.Redact(x.Plugins[i])
	}
	x.Cwd = s.Redact(x.Cwd)
	return x
}

// exec is Exec with the values as they would be used.
func (s *Server) exec(projectDir string) Exec {
	var x Exec
	if s.Command != "" {
		x.Commands = append(x.Commands, append([]string{s.Command}, s.Args...))
		x.Cwd = s.Cwd
		if x.Cwd == "" {
			x.Cwd = projectDir
		}
	}
	for k := range s.Env {
		x.Env = append(x.Env, k)
	}
	sort.Strings(x.Env)
	if s.Type != "" && s.Type != TypeStdio && s.Type != TypeHTTP && s.Type != TypeSSE {
		x.Plugins = append(x.Plugins, fmt.Sprintf("transport %q with options %s", s.Type, orEmpty(s.Options)))
	}
	var o struct {
		Flow    string          `json:"flow"`
		Type    string          `json:"type"`
		Options json.RawMessage `json:"options"`
	}
	if json.Unmarshal(s.OAuth, &o) == nil {
		flow := o.Flow
		if flow == "" {
			flow = o.Type
		}
		if !plainFlows[strings.ToLower(strings.ReplaceAll(flow, "-", "_"))] {
			x.Plugins = append(x.Plugins, fmt.Sprintf("login flow %q with options %s", flow, orEmpty(o.Options)))
		}
	}
	walkOptions(s.OAuth, 0, func(key string, v any) {
		switch {
		case strings.HasSuffix(key, "_command"):
			switch c := v.(type) {
			case string:
				x.Commands = append(x.Commands, []string{c})
			case []any:
				var argv []string
				for _, a := range c {
					argv = append(argv, fmt.Sprint(a))
				}
				x.Commands = append(x.Commands, argv)
			}
		case strings.HasSuffix(key, "_file"):
			if f, ok := v.(string); ok {
				x.Files = append(x.Files, f)
			}
		}
	})
	return x
}

func orEmpty(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

// walkOptions calls fn for every member of every object in raw, at most a
// few levels down (login options are flat; a deeper value is no option).
func walkOptions(raw json.RawMessage, depth int, fn func(key string, v any)) {
	var m map[string]any
	if depth > 4 || json.Unmarshal(raw, &m) != nil {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fn(k, m[k])
		if sub, ok := m[k].(map[string]any); ok {
			b, _ := json.Marshal(sub)
			walkOptions(b, depth+1, fn)
		}
	}
}

// LocalFiles are the files inside projectDir that the entry would run or
// read: its command and arguments that name a file there (./serve.sh,
// node ./server.js, bash serve) and login files. Trust covers their
// content as it covers .mcp.json's, so that editing serve.sh after
// trusting the project blocks it again. Each is given as the path the
// entry names, not resolved: a symlink pointed elsewhere after trust is a
// change of content. A relative path that names nothing yet is included
// too (it hashes as absent), so a script added after trust is a change.
// Folders (node src, python -m pkg) are not covered.
func (s *Server) LocalFiles(projectDir string) []string {
	x := s.exec(projectDir)
	base := x.Cwd
	if base == "" {
		base = projectDir
	}
	type cand struct {
		arg     string
		command bool // found on PATH when a bare word, not in base
	}
	var cands []cand
	for _, argv := range x.Commands {
		for i, a := range argv {
			cands = append(cands, cand{a, i == 0})
		}
	}
	for _, f := range x.Files {
		cands = append(cands, cand{f, false})
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range cands {
		arg := c.arg
		if strings.HasPrefix(arg, "-") {
			_, v, ok := strings.Cut(arg, "=") // --config=./x.json
			if !ok {
				continue
			}
			arg = v
		}
		pathLike := strings.ContainsAny(arg, `/\`) || strings.HasPrefix(arg, ".")
		if arg == "" || c.command && !pathLike {
			continue
		}
		p := arg
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		if rel, err := filepath.Rel(projectDir, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		variants := []string{p}
		if c.command {
			// On Windows "./serve" runs serve.exe or serve.cmd: each
			// is recorded, present or not, so one added is a change.
			variants = commandFiles(p)
		}
		for _, p := range variants {
			fi, err := os.Stat(p)
			switch {
			case err == nil && fi.Mode().IsRegular():
			case errors.Is(err, fs.ErrNotExist) && pathLike:
			default:
				continue
			}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// isLocalHost says whether host is this machine or an address of a
// private or link-local network. A name other than localhost is not
// resolved here: what it resolves to is the network's to say.
func isLocalHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified())
}
