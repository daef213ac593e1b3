package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// SourceKind says where a server was defined.
type SourceKind string

const (
	SourceProject SourceKind = "project"
	SourceHome    SourceKind = "home"
)

// File names, as in the original tool.
const (
	ProjectFile  = ".mcp.json"
	HomeFile     = "mcp-servers.json"
	HomeFileAlt  = "mcp.json"
	maxFileBytes = 16 << 20
)

// Source is one config file and what came of reading it.
type Source struct {
	Kind SourceKind `json:"kind"`
	Path string     `json:"path"`
	// Found is false when the file does not exist, which is not an error.
	Found bool `json:"found"`
	// Error says why the file contributed nothing: it names the file and,
	// for a syntax error, the line and column.
	Error   string `json:"error,omitempty"`
	Servers int    `json:"servers"`
	// SHA256 is the hash of the bytes parsed, for the trust gate: what
	// is trusted is exactly what was read, not a second read of the file.
	SHA256 string `json:"sha256,omitempty"`
}

// Transport names the core chooses itself; any other type names a plugin.
const (
	TypeStdio = "stdio"
	TypeHTTP  = "http"
	TypeSSE   = "sse"
)

// Server is one upstream server entry, with ${VAR} expanded.
type Server struct {
	Name   string     `json:"name"`
	Source SourceKind `json:"source"`
	File   string     `json:"file"`
	// Type is the transport: stdio, http, sse, or a plugin's name.
	Type    string            `json:"type"`
	Command string            `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Cwd     string            `json:"cwd,omitempty"`
	URL     string            `json:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Timeout time.Duration     `json:"timeout,omitempty"`
	APIKey  string            `json:"-"`
	OAuth   json.RawMessage   `json:"oauth,omitempty"`
	// Options are settings for the transport plugin that the core does
	// not interpret (a JSON object, ${VAR} expanded), for third-party
	// transports.
	Options    json.RawMessage `json:"options,omitempty"`
	InheritEnv bool            `json:"inherit_env,omitempty"`
	// AllowHTTP permits plain http to a host that is not loopback.
	AllowHTTP bool `json:"allow_http,omitempty"`
	// Share lets the hub share the server's process (or remote session)
	// between the sessions that use the same entry; "share": false gives
	// each session one of its own. True unless the entry says otherwise.
	Share bool `json:"share"`
	// MaxInstances is the most processes of a legacy server that the
	// hub's sessions may use at once ("max_instances"); 0: the default.
	MaxInstances int `json:"max_instances,omitempty"`
	// Probe is set when the entry gave a url but no type: the proxy tries
	// streamable HTTP and falls back to SSE if the server does not speak it.
	Probe bool `json:"probe,omitempty"`

	// IncludeTools and ExcludeTools are glob patterns over the server's tool
	// names (case-insensitive) choosing what is mirrored, before the
	// guardrails.
	IncludeTools []string `json:"include_tools,omitempty"`
	ExcludeTools []string `json:"exclude_tools,omitempty"`
	// Prefix, when set, goes before the names of the server's tools and
	// prompts in place of the server's name ("prefix", or its older name
	// "tool_prefix"); "" leaves the upstream's own names.
	Prefix *string `json:"prefix,omitempty"`
	// Start is when the server starts ("start"): "lazy", "eager", or ""
	// for ICA_MCP_PROXY_START's choice. It does not change the session,
	// so it is not part of the fingerprint.
	Start string `json:"start,omitempty"`

	// EnvRefs are the variables the entry's strings name as ${VAR}: what
	// the entry would read from the user's environment (the trust gate
	// holds back a project's remote server that would send any away).
	EnvRefs []string `json:"env_refs,omitempty"`

	// Written is the entry's command line and URL as the file writes
	// them, ${VAR} unexpanded: what is shown (see Display), since the
	// expanded values may hold secrets.
	Written Written `json:"-"`
	// expanded are the values the entry's ${VAR}s expanded to, which
	// Redact takes out of messages.
	expanded map[string]string

	// Error, when set, makes the entry unusable and says why.
	Error string `json:"error,omitempty"`
	// Warnings are problems that do not stop the server (an unset
	// variable, an unknown key).
	Warnings []string `json:"warnings,omitempty"`
	// Fingerprint changes whenever anything that affects the session does.
	Fingerprint string `json:"-"`
}

// Shadow records a server name defined in both files.
type Shadow struct {
	Name   string     `json:"name"`
	Winner SourceKind `json:"winner"`
	Loser  SourceKind `json:"shadowed"`
	// Hidden is the losing entry, which the trust gate puts back when the
	// winner is an untrusted project's.
	Hidden *Server `json:"-"`
}

// Config is the merged result of both files.
type Config struct {
	Sources []Source `json:"sources"`
	// Servers are the effective entries, sorted by name.
	Servers  []*Server `json:"servers"`
	Shadowed []Shadow  `json:"shadowed,omitempty"`
}

// Server returns the entry named name, or nil.
func (c *Config) Server(name string) *Server {
	i := sort.Search(len(c.Servers), func(i int) bool { return c.Servers[i].Name >= name })
	if i < len(c.Servers) && c.Servers[i].Name == name {
		return c.Servers[i]
	}
	return nil
}

// Options says where to look and how to expand.
type Options struct {
	// Cwd is the project directory holding .mcp.json.
	Cwd string
	// Home is $ICA_HOME.
	Home string
	// PreferHome makes the home file's entries win.
	PreferHome bool
	// LookupEnv resolves ${VAR}; os.LookupEnv in production.
	LookupEnv func(string) (string, bool)
}

// Paths returns the files Load reads, in the order it reads them: the
// project file and the home file actually in use (mcp-servers.json, else
// mcp.json).
func Paths(o Options) (project, home string) {
	project = filepath.Join(o.Cwd, ProjectFile)
	home = filepath.Join(o.Home, HomeFile)
	if _, err := os.Stat(home); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(o.Home, HomeFileAlt)); err == nil {
			home = filepath.Join(o.Home, HomeFileAlt)
		}
	}
	return project, home
}

// Load reads both files and merges them. It never fails: problems are in
// the Sources' and Servers' Error fields.
func Load(o Options) *Config {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	projectPath, homePath := Paths(o)
	project, projectSrc := loadFile(SourceProject, projectPath, o)
	home, homeSrc := loadFile(SourceHome, homePath, o)

	first, second := project, home
	if o.PreferHome {
		first, second = home, project
	}
	cfg := &Config{Sources: []Source{projectSrc, homeSrc}}
	byName := make(map[string]*Server)
	for _, s := range first {
		byName[s.Name] = s
	}
	for _, s := range second {
		if w, ok := byName[s.Name]; ok {
			cfg.Shadowed = append(cfg.Shadowed, Shadow{Name: s.Name, Winner: w.Source, Loser: s.Source, Hidden: s})
			continue
		}
		byName[s.Name] = s
	}
	for _, s := range byName {
		cfg.Servers = append(cfg.Servers, s)
	}
	sort.Slice(cfg.Servers, func(i, j int) bool { return cfg.Servers[i].Name < cfg.Servers[j].Name })
	sort.Slice(cfg.Shadowed, func(i, j int) bool { return cfg.Shadowed[i].Name < cfg.Shadowed[j].Name })
	return cfg
}

func loadFile(kind SourceKind, path string, o Options) ([]*Server, Source) {
	src := Source{Kind: kind, Path: path}
	// The user's own file must be theirs alone; a project's is anyone's
	// by nature, which is what the trust gate is for.
	data, err := safefile.Read(path, safefile.Rules{Max: maxFileBytes, Private: kind == SourceHome})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, src
	}
	src.Found = true
	if err != nil {
		src.Error = err.Error()
		return nil, src
	}
	sum := sha256.Sum256(data)
	src.SHA256 = hex.EncodeToString(sum[:])
	entries, err := parseServers(data)
	if err != nil {
		src.Error = fmt.Sprintf("%s: %v", path, err)
		return nil, src
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	sort.Strings(names)
	servers := make([]*Server, 0, len(names))
	for _, name := range names {
		servers = append(servers, parseServer(name, entries[name], kind, path, o))
	}
	src.Servers = len(servers)
	return servers, src
}

// parseServers accepts {"mcpServers": {...}} or a bare map of servers.
func parseServers(data []byte) (map[string]json.RawMessage, error) {
	if jsonrpc.Depth(data, jsonrpc.MaxDepth) > jsonrpc.MaxDepth {
		return nil, jsonrpc.ErrTooDeep
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, describeJSONError(data, err)
	}
	if top == nil {
		return nil, errors.New("must be a JSON object")
	}
	if raw, ok := top["mcpServers"]; ok {
		var servers map[string]json.RawMessage
		if err := json.Unmarshal(raw, &servers); err != nil || servers == nil {
			return nil, fmt.Errorf("%s: \"mcpServers\" must be an object", position(data, bytes.Index(data, []byte(`"mcpServers"`))))
		}
		return servers, nil
	}
	return top, nil
}

// describeJSONError turns a decoding error into one naming line and column.
func describeJSONError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("%s: %v", position(data, int(syn.Offset)), syn)
	case errors.As(err, &typ):
		return fmt.Errorf("%s: must be a JSON object, not %s", position(data, int(typ.Offset)), typ.Value)
	}
	return err
}

// position renders a byte offset as "line L, column C" (1-based).
func position(data []byte, offset int) string {
	if offset < 0 {
		offset = 0
	}
	if offset > len(data) {
		offset = len(data)
	}
	line := 1 + bytes.Count(data[:offset], []byte{'\n'})
	col := offset - bytes.LastIndexByte(data[:offset], '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

// knownKeys are the server keys the proxy reads; others are reported.
var knownKeys = map[string]bool{
	"command": true, "args": true, "env": true, "cwd": true, "url": true, "headers": true,
	"type": true, "timeout": true, "api_key": true, "oauth": true, "inherit_env": true,
	"allow_http": true, "options": true, "include_tools": true, "exclude_tools": true, "prefix": true, "tool_prefix": true,
	"start": true, "share": true, "max_instances": true,
	// Keys other tools write into the same files; harmless here.
	"transport": true, "description": true, "disabled": true, "enabled": true,
}

func parseServer(name string, raw json.RawMessage, kind SourceKind, path string, o Options) *Server {
	s := &Server{Name: name, Source: kind, File: path}
	p := entryParser{s: s, lookup: o.LookupEnv}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		s.Error = "the entry must be a JSON object"
		s.Fingerprint = fingerprint(s)
		return s
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !knownKeys[k] {
			s.Warnings = append(s.Warnings, fmt.Sprintf("unknown key %q ignored", k))
		}
	}

	s.Written = written(fields)
	s.Command = p.str(fields, "command")
	s.Args = p.strList(fields, "args")
	s.Env = p.strMap(fields, "env")
	s.Cwd = p.str(fields, "cwd")
	s.URL = p.str(fields, "url")
	s.Headers = p.strMap(fields, "headers")
	s.APIKey = p.str(fields, "api_key")
	s.Timeout = p.timeout(fields, "timeout")
	s.InheritEnv = p.boolean(fields, "inherit_env")
	s.AllowHTTP = p.boolean(fields, "allow_http")
	s.Share = true
	if _, ok := fields["share"]; ok {
		s.Share = p.boolean(fields, "share")
	}
	s.MaxInstances = p.count(fields, "max_instances")
	s.IncludeTools = p.globs(fields, "include_tools")
	s.ExcludeTools = p.globs(fields, "exclude_tools")
	s.Prefix = p.prefix(fields)
	switch start := strings.ToLower(p.str(fields, "start")); start {
	case "", "lazy", "eager":
		s.Start = start
	default:
		s.Warnings = append(s.Warnings, fmt.Sprintf(`"start" is %q, not "lazy" or "eager"; ignored`, start))
	}
	typ := strings.ToLower(p.str(fields, "type"))
	if raw, ok := fields["oauth"]; ok {
		s.OAuth = p.expandJSON("oauth", raw)
	}
	if raw, ok := fields["options"]; ok && string(raw) != "null" {
		if !strings.HasPrefix(strings.TrimSpace(string(raw)), "{") {
			p.fail("options", "an object")
		} else {
			s.Options = p.expandJSON("options", raw)
		}
	}

	if s.Cwd != "" {
		s.Cwd = resolvePath(s.Cwd, filepath.Dir(path))
	}
	if p.err == "" {
		s.Type, p.err = resolveType(typ, s)
	}
	// An expanded value may be quoted in a message ("type", "start", a
	// glob, a url that does not parse): put ${VAR} back.
	s.Error = s.Redact(p.err)
	for i, w := range s.Warnings {
		s.Warnings[i] = s.Redact(w)
	}
	s.Fingerprint = fingerprint(s)
	return s
}

func resolveType(typ string, s *Server) (string, string) {
	switch typ {
	case "":
		switch {
		case s.Command != "" && s.URL != "":
			return "", `set either "command" or "url", not both`
		case s.Command != "":
			return TypeStdio, ""
		case s.URL != "":
			s.Probe = true
			return TypeHTTP, checkURL(s)
		}
		return "", `needs "command" (a local server) or "url" (a remote one)`
	case "stdio":
		if s.Command == "" {
			return "", `type "stdio" needs "command"`
		}
		return TypeStdio, ""
	case "http", "streamable_http", "streamable-http", "streamablehttp":
		typ = TypeHTTP
	case "sse":
		typ = TypeSSE
	default:
		for _, c := range typ {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return "", fmt.Sprintf("type %q is not a transport name", typ)
			}
		}
		return typ, "" // a third-party transport plugin
	}
	if s.URL == "" {
		return "", fmt.Sprintf("type %q needs \"url\"", typ)
	}
	return typ, checkURL(s)
}

// checkURL applies the policy for remote servers: https, or plain http
// only to this machine unless the entry says "allow_http": true. It
// returns the entry's error, or "".
func checkURL(s *Server) string {
	u, err := url.Parse(s.URL)
	if err != nil {
		return fmt.Sprintf("\"url\" is not a URL: %v", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("\"url\" must start with https:// (or http:// to this machine), not %q", u.Scheme+":")
	case u.Host == "":
		return "\"url\" has no host"
	case u.Scheme == "http" && !s.AllowHTTP && !isLoopback(u.Hostname()):
		return fmt.Sprintf("\"url\" uses plain http to %s, which is not this machine; use https, or set \"allow_http\": true to send requests and credentials unencrypted", u.Hostname())
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func resolvePath(p, base string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	if !filepath.IsAbs(p) {
		return filepath.Join(base, p)
	}
	return p
}

func fingerprint(s *Server) string {
	c := *s
	c.Start = ""
	data, _ := json.Marshal(struct {
		*Server
		APIKey string
	}{&c, s.APIKey})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
