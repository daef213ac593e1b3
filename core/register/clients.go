package register

import (
	"os"
	"path/filepath"
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
		shape: stdioShape(true), path: home(".claude.json"),
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
		shape: stdioShape(false),
		path:  func(e Env) string { return filepath.Join(claudeDesktopDir(e), "claude_desktop_config.json") },
		dir:   claudeDesktopDir,
	},
	{
		Name: "codex", Title: "Codex", Format: TOML, Container: "mcp_servers", Separator: "__",
		shape: stdioShape(false),
		path:  func(e Env) string { return filepath.Join(codexHome(e), "config.toml") },
		dir:   codexHome,
	},
	{
		Name: "cursor", Title: "Cursor", Format: JSON, Container: "mcpServers", Separator: "__",
		shape: stdioShape(false), path: home(".cursor", "mcp.json"), dir: home(".cursor"),
	},
	{
		Name: "gemini", Title: "Gemini CLI", Format: JSON, Container: "mcpServers", Separator: ".",
		shape: stdioShape(false), path: home(".gemini", "settings.json"), dir: home(".gemini"),
	},
	{
		Name: "opencode", Title: "OpenCode", Format: JSON, Container: "mcp", Separator: "__",
		shape: opencodeShape,
		path:  func(e Env) string { return filepath.Join(xdgConfig(e), "opencode", "opencode.json") },
		dir:   func(e Env) string { return filepath.Join(xdgConfig(e), "opencode") },
		skeleton: `{
  "$schema": "https://opencode.ai/config.json"
}
`,
	},
	{
		// Antigravity runs Gemini and Claude models, so it gets the
		// separator both accept.
		Name: "antigravity", Title: "Antigravity", Format: JSON, Container: "mcpServers", Separator: "__",
		shape: stdioShape(false), path: home(".gemini", "antigravity", "mcp_config.json"), dir: home(".gemini", "antigravity"),
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
