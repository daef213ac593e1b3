package register

import (
	"os"
	"path/filepath"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
)

// Format is a config file's syntax.
type Format string

const (
	JSON Format = "json"
	TOML Format = "toml"
)

// Env is what a client's config location depends on.
type Env struct {
	// Home is the user's home folder.
	Home string
	// GOOS picks the per-platform folder of desktop apps.
	GOOS string
	// Getenv reads XDG_CONFIG_HOME, CODEX_HOME and APPDATA.
	Getenv func(string) string
}

// Client is an agent runtime that can run the proxy.
type Client struct {
	// Name is the CLI argument ("claude-code").
	Name string
	// Title is the product's name.
	Title string
	// Format is the config file's syntax.
	Format Format
	// Container is the key (JSON) or table (TOML) holding the servers.
	Container string
	// Separator is the tool-name separator the client's model APIs accept:
	// Anthropic's and OpenAI's refuse dots (names must match
	// ^[a-zA-Z0-9_-]{1,64}$), Gemini's accept them.
	Separator string
	// Naming is how the client names the proxy's tools for its model.
	Naming Naming
	// ListWait is how long the proxy's first tools/list may wait for
	// servers still starting, when the client waits less than the
	// proxy's default (10 s) before it gives up on the proxy or runs a
	// turn without its tools; 0 keeps the default. Servers listed later
	// reach the client by tools/list_changed.
	ListWait time.Duration
	// MaxTools bounds the tools the proxy mirrors to the client
	// (ICA_MCP_PROXY_MAX_TOTAL_TOOLS) when its model API takes a limited
	// number of tools in a request and the runtime sends its own beside
	// them; 0 keeps the default. The others stay reachable through
	// proxy.search_tools and proxy.call.
	MaxTools int
	// Shape builds the entry's managed keys.
	shape func(e Entry) []field
	// path is the user-level config file.
	path func(Env) string
	// dir is the folder whose presence says the client is installed.
	dir func(Env) string
	// skeleton is the content of a new config file before the entry is
	// added ("{}" unless the client wants more).
	skeleton string
}

// Naming is how a runtime turns an MCP tool's name into the name its model
// API sees, and how long that whole name may be. The proxy's names must
// fit what is left after the prefix: one name over a model API's limit
// makes the API refuse the whole request, not just that tool.
type Naming struct {
	// Prefix is what the runtime puts before each tool of the server
	// registered as entry ("mcp__ica-mcp-proxy__").
	Prefix func(entry string) string
	// Tool rewrites the proxy's tool name as the runtime does (Codex
	// turns dashes into "_"); nil leaves it.
	Tool func(name string) string
	// Limit is the longest whole name the runtime or its model API takes.
	Limit int
	// Observed says the prefix and limit were seen in the runtime's own
	// requests (test/e2e runs it against a model API on loopback); the
	// others are from the runtime's documentation and issue reports.
	Observed bool
}

// Budget is the longest tool name the proxy may expose to the runtime
// for the entry: the limit less the prefix, but never below
// settings.MinToolNameMax (the proxy.* names must fit). ok is false when
// the floor applies and the entry's name is too long for the limit.
func (c Client) Budget(entry string) (n int, ok bool) {
	n = c.Naming.Limit
	if c.Naming.Prefix != nil {
		n -= len(c.Naming.Prefix(entry))
	}
	if n < settings.MinToolNameMax {
		return settings.MinToolNameMax, false
	}
	return n, true
}

// ExposedName is the name the runtime's model sees for the proxy's tool
// name under the entry.
func (c Client) ExposedName(entry, name string) string {
	if c.Naming.Tool != nil {
		name = c.Naming.Tool(name)
	}
	if c.Naming.Prefix == nil {
		return name
	}
	return c.Naming.Prefix(entry) + name
}

// modelSafe replaces what Anthropic's and OpenAI's name rules refuse with
// "_", as the runtimes do with a server's name before using it as a
// prefix.
func modelSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// underscored also turns dashes into "_" (Codex's namespaces).
func underscored(s string) string {
	b := []byte(modelSafe(s))
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

// prefix is before + the entry's name (through clean, when given) + after.
func prefix(before string, clean func(string) string, after string) func(string) string {
	return func(entry string) string {
		if clean != nil {
			entry = clean(entry)
		}
		return before + entry + after
	}
}

// Entry is what is registered: this binary, under a name, with the env it
// needs.
type Entry struct {
	// Name is the server's name in the client's config ("ica-mcp-proxy").
	Name string
	// Command is the absolute path of the proxy binary.
	Command string
	// Env holds the variables the proxy must see (the tool separator,
	// ICA_HOME when not the default); variables the user put in an
	// existing entry are kept beside them.
	Env map[string]string
}

// field is one managed key of an entry. merge says the value is an object
// whose existing members are kept (env).
type field struct {
	key   string
	value any
	merge bool
}

// DefaultName is the server name the proxy registers under.
const DefaultName = "ica-mcp-proxy"

// stdioShape is the common {"command", "args", "env"} entry.
func stdioShape(withType bool) func(Entry) []field {
	return func(e Entry) []field {
		var fs []field
		if withType {
			fs = append(fs, field{key: "type", value: "stdio"})
		}
		fs = append(fs, field{key: "command", value: e.Command}, field{key: "args", value: []any{}})
		if len(e.Env) > 0 {
			fs = append(fs, field{key: "env", value: stringMap(e.Env), merge: true})
		}
		return fs
	}
}

func opencodeShape(e Entry) []field {
	fs := []field{
		{key: "type", value: "local"},
		{key: "command", value: []any{e.Command}},
		{key: "enabled", value: true},
	}
	if len(e.Env) > 0 {
		fs = append(fs, field{key: "environment", value: stringMap(e.Env), merge: true})
	}
	return fs
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func home(parts ...string) func(Env) string {
	return func(e Env) string { return filepath.Join(append([]string{e.Home}, parts...)...) }
}

// xdgConfig is $XDG_CONFIG_HOME, default ~/.config.
func xdgConfig(e Env) string {
	if d := e.Getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return d
	}
	return filepath.Join(e.Home, ".config")
}

func codexHome(e Env) string {
	if d := e.Getenv("CODEX_HOME"); d != "" {
		return d
	}
	return filepath.Join(e.Home, ".codex")
}

// claudeDesktopDir is where Claude Desktop keeps its config on each
// platform.
func claudeDesktopDir(e Env) string {
	switch e.GOOS {
	case "darwin":
		return filepath.Join(e.Home, "Library", "Application Support", "Claude")
	case "windows":
		if d := e.Getenv("APPDATA"); d != "" {
			return filepath.Join(d, "Claude")
		}
		return filepath.Join(e.Home, "AppData", "Roaming", "Claude")
	default:
		return filepath.Join(xdgConfig(e), "Claude")
	}
}

// Clients are the runtimes register knows, in the order they are listed.
var Clients = []Client{
	{
		Name: "claude-code", Title: "Claude Code", Format: JSON, Container: "mcpServers", Separator: "__",
		// mcp__<entry>__<tool>, checked by the Anthropic API: 64.
		Naming: Naming{Prefix: prefix("mcp__", modelSafe, "__"), Limit: 64, Observed: true},
		// claude -p runs the first turn once a server has taken about
		// 1.5 s to answer its first lists (tools, resources and prompts),
		// without that server's tools; the proxy's own start-up and a
		// busy machine take their share.
		ListWait: 500 * time.Millisecond,
		shape:    stdioShape(true), path: home(".claude.json"),
		dir: func(e Env) string {
			// Claude Code keeps ~/.claude.json beside its ~/.claude folder;
			// either says it is installed.
			if _, err := os.Stat(filepath.Join(e.Home, ".claude.json")); err == nil {
				return e.Home
			}
			return filepath.Join(e.Home, ".claude")
		},
	},
	{
		Name: "claude-desktop", Title: "Claude Desktop", Format: JSON, Container: "mcpServers", Separator: "__",
		// Refuses dots; its prefix is not documented, so the name alone
		// must fit the Anthropic API's 64.
		Naming: Naming{Limit: 64},
		shape:  stdioShape(false),
		path:   func(e Env) string { return filepath.Join(claudeDesktopDir(e), "claude_desktop_config.json") },
		dir:    claudeDesktopDir,
	},
	{
		Name: "codex", Title: "Codex", Format: TOML, Container: "mcp_servers", Separator: "__",
		// Earlier versions send mcp__<entry>__<tool> and hash names over
		// 64; 0.169 puts the tools in a namespace mcp__<entry>, dashes
		// made "_" in both. The budget fits both.
		Naming: Naming{Prefix: prefix("mcp__", underscored, "__"), Tool: underscored, Limit: 64, Observed: true},
		// codex exec starts the first turn soon after initialize, with
		// the tools listed by then (under a second here); it ignores
		// tools/list_changed.
		ListWait: 500 * time.Millisecond,
		// OpenAI's models take 128 tools in a request; Codex sends about
		// 15 of its own, and the proxy adds its 9.
		MaxTools: 100,
		shape:    stdioShape(false),
		path:     func(e Env) string { return filepath.Join(codexHome(e), "config.toml") },
		dir:      codexHome,
	},
	{
		Name: "cursor", Title: "Cursor", Format: JSON, Container: "mcpServers", Separator: "__",
		// Drops a tool whose server and tool names reach 60 together.
		Naming: Naming{Prefix: prefix("", nil, ""), Limit: 59},
		shape:  stdioShape(false), path: home(".cursor", "mcp.json"), dir: home(".cursor"),
	},
	{
		Name: "gemini", Title: "Gemini CLI", Format: JSON, Container: "mcpServers", Separator: ".",
		// mcp_<entry>_<tool>, cut by the CLI itself over 63.
		Naming: Naming{Prefix: prefix("mcp_", nil, "_"), Limit: 63, Observed: true},
		shape:  stdioShape(false), path: home(".gemini", "settings.json"), dir: home(".gemini"),
	},
	{
		Name: "opencode", Title: "OpenCode", Format: JSON, Container: "mcp", Separator: "__",
		// <entry>_<tool> (1.x; earlier versions differed), sent to the
		// provider's API: 64 for Anthropic's and OpenAI's.
		Naming: Naming{Prefix: prefix("", modelSafe, "_"), Limit: 64, Observed: true},
		// Its MCP requests time out after 5 s by default.
		ListWait: 4 * time.Second,
		// With OpenAI's models, 128 tools in a request; OpenCode sends
		// about 15 of its own.
		MaxTools: 100,
		shape:    opencodeShape,
		path:     func(e Env) string { return filepath.Join(xdgConfig(e), "opencode", "opencode.json") },
		dir:      func(e Env) string { return filepath.Join(xdgConfig(e), "opencode") },
		skeleton: `{
  "$schema": "https://opencode.ai/config.json"
}
`,
	},
	{
		// Antigravity runs Gemini and Claude models, so it gets the
		// separator both accept.
		Name: "antigravity", Title: "Antigravity", Format: JSON, Container: "mcpServers", Separator: "__",
		// Refuses dots; its prefix is not documented.
		Naming: Naming{Limit: 64},
		shape:  stdioShape(false), path: home(".gemini", "antigravity", "mcp_config.json"), dir: home(".gemini", "antigravity"),
	},
}

// Lookup finds a client by name.
func Lookup(name string) (Client, bool) {
	for _, c := range Clients {
		if c.Name == name {
			return c, true
		}
	}
	return Client{}, false
}

// Names lists the clients' names.
func Names() []string {
	out := make([]string, len(Clients))
	for i, c := range Clients {
		out[i] = c.Name
	}
	return out
}

// ConfigPath is the client's user-level config file.
func (c Client) ConfigPath(e Env) string { return c.path(e) }

// Installed says whether the client's folder exists.
func (c Client) Installed(e Env) bool {
	_, err := os.Stat(c.dir(e))
	return err == nil
}
