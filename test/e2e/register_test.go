package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// clientHome is a user's home with a config file for every client, each
// holding entries of its own.
type clientHome struct {
	dir   string
	files map[string]string // client → config path
}

var clientConfigs = map[string]struct{ rel, content string }{
	"claude-code": {".claude.json", `{
  "numStartups": 42,
  "projects": {
    "/home/u/src/app": {"allowedTools": [], "mcpServers": {}}
  },
  "mcpServers": {
    "github": {"type": "stdio", "command": "github-mcp", "args": ["stdio"], "env": {"GITHUB_TOKEN": "x"}}
  }
}
`},
	"claude-desktop": {".config/Claude/claude_desktop_config.json", `{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/u/Documents"]
    }
  },
  "globalShortcut": "Alt+Space"
}
`},
	"codex": {".codex/config.toml", `# Codex configuration
model = "gpt-5-codex"
approval_policy = "on-request"

[mcp_servers.docs]
command = "docs-mcp"
args = [
  "--read-only",
]

[mcp_servers.docs.env]
DOCS_TOKEN = "abc" # kept

[profiles.deep]
model_reasoning_effort = "high"
`},
	"cursor": {".cursor/mcp.json", `{
    "mcpServers": {
        "linear": {
            "url": "https://mcp.linear.app/sse"
        }
    }
}
`},
	"gemini": {".gemini/settings.json", `{
  "theme": "GitHub",
  "selectedAuthType": "oauth-personal",
  "mcpServers": {}
}
`},
	"opencode": {".config/opencode/opencode.json", `{
  "$schema": "https://opencode.ai/config.json",
  "theme": "tokyonight",
  "mcp": {
    "sentry": {"type": "remote", "url": "https://mcp.sentry.dev/mcp", "enabled": true}
  }
}
`},
	"antigravity": {".gemini/antigravity/mcp_config.json", `{"mcpServers":{"firebase":{"command":"npx","args":["-y","firebase-tools@latest","mcp"]}}}`},
}

func newClientHome(t *testing.T) *clientHome {
	t.Helper()
	h := &clientHome{dir: t.TempDir(), files: map[string]string{}}
	for client, c := range clientConfigs {
		path := filepath.Join(h.dir, c.rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		h.files[client] = path
	}
	return h
}

// in points the env's HOME (and the folders derived from it) at h.
func (h *clientHome) in(e *env) {
	e.set("HOME="+h.dir, "XDG_CONFIG_HOME="+filepath.Join(h.dir, ".config"), "CODEX_HOME=")
}

func parseConfig(t *testing.T, client, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{}
	if client == "codex" {
		_, err = toml.Decode(string(data), &doc)
	} else {
		err = json.Unmarshal(data, &doc)
	}
	if err != nil {
		t.Fatalf("%s: %s no longer parses: %v\n%s", client, path, err, data)
	}
	return doc
}

// `register CLIENT --write` merges the entry into every client's config
// format, keeps the other entries, backs the file up, and changes nothing
// the second time.
func TestRegisterWriteEveryClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := newClientHome(t)
	h.in(e)
	self, err := filepath.EvalSymlinks(proxyBin())
	if err != nil {
		t.Fatal(err)
	}
	for client, path := range h.files {
		t.Run(client, func(t *testing.T) {
			before := parseConfig(t, client, path)
			orig, _ := os.ReadFile(path)

			// Without --write, only the entry is printed.
			out, err := e.command("register", client).Output()
			if err != nil || !strings.Contains(string(out), self) {
				t.Fatalf("register %s: %v\n%s", client, err, out)
			}
			if now, _ := os.ReadFile(path); string(now) != string(orig) {
				t.Fatal("register without --write changed the file")
			}

			msg, err := e.command("register", client, "--write").CombinedOutput()
			if err != nil || !strings.Contains(string(msg), "backed up") {
				t.Fatalf("register --write: %v\n%s", err, msg)
			}
			after := parseConfig(t, client, path)
			container := "mcpServers"
			switch client {
			case "codex":
				container = "mcp_servers"
			case "opencode":
				container = "mcp"
			}
			servers := after[container].(map[string]any)
			entry, _ := servers["ica-mcp-proxy"].(map[string]any)
			var command any = entry["command"]
			envKey := "env"
			if client == "opencode" {
				command, envKey = entry["command"].([]any)[0], "environment"
			}
			if command != self {
				t.Fatalf("entry runs %v, want %s", entry["command"], self)
			}
			env, _ := entry[envKey].(map[string]any)
			wantSep := "__"
			if client == "gemini" {
				wantSep = ""
			}
			if sep, _ := env["ICA_MCP_PROXY_TOOL_SEPARATOR"].(string); sep != wantSep {
				t.Fatalf("separator %q, want %q", sep, wantSep)
			}
			// The name budget leaves room for the runtime's prefix.
			wantMax := map[string]string{"claude-code": "44", "codex": "44", "cursor": "46", "gemini": "45", "opencode": "50"}[client]
			if got, _ := env["ICA_MCP_PROXY_TOOL_NAME_MAX"].(string); got != wantMax {
				t.Fatalf("name budget %q, want %q", got, wantMax)
			}
			wantWait := map[string]string{"claude-code": "0.5", "codex": "0.5", "opencode": "4"}[client]
			if got, _ := env["ICA_MCP_PROXY_LIST_WAIT_S"].(string); got != wantWait {
				t.Fatalf("list wait %q, want %q", got, wantWait)
			}
			wantTools := map[string]string{"codex": "100", "opencode": "100"}[client]
			if got, _ := env["ICA_MCP_PROXY_MAX_TOTAL_TOOLS"].(string); got != wantTools {
				t.Fatalf("tool count %q, want %q", got, wantTools)
			}
			if env["ICA_HOME"] != e.home {
				t.Fatalf("ICA_HOME %v, want %s", env["ICA_HOME"], e.home)
			}
			// Every other entry is as it was.
			delete(servers, "ica-mcp-proxy")
			if len(servers) == 0 {
				delete(after, container)
				if m, ok := before[container].(map[string]any); ok && len(m) == 0 {
					delete(before, container)
				}
			}
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("other entries changed:\nbefore %v\nafter  %v", before, after)
			}
			if client == "codex" {
				written, _ := os.ReadFile(path)
				if !strings.HasPrefix(string(written), string(orig)) {
					t.Fatalf("the TOML file was not kept as it was:\n%s", written)
				}
			}
			backups, _ := filepath.Glob(path + ".bak-*")
			if len(backups) != 1 {
				t.Fatalf("backups: %v", backups)
			}
			if b, _ := os.ReadFile(backups[0]); string(b) != string(orig) {
				t.Fatal("the backup does not hold the original")
			}

			// Twice changes nothing.
			written, _ := os.ReadFile(path)
			msg, err = e.command("register", client, "--write").CombinedOutput()
			if err != nil || !strings.Contains(string(msg), "nothing changed") {
				t.Fatalf("second register --write: %v\n%s", err, msg)
			}
			if again, _ := os.ReadFile(path); string(again) != string(written) {
				t.Fatal("the second run changed the file")
			}
			if backups, _ := filepath.Glob(path + ".bak-*"); len(backups) != 1 {
				t.Fatalf("the second run made a backup: %v", backups)
			}
		})
	}

	// The list shows every client registered.
	out, err := e.command("register").Output()
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Client string `json:"client"`
		State  string `json:"state"`
	}
	if err := json.Unmarshal(out, &rows); err != nil || len(rows) != len(clientConfigs) {
		t.Fatalf("register list: %v\n%s", err, out)
	}
	for _, r := range rows {
		if r.State != "registered" {
			t.Fatalf("%s: %s", r.Client, r.State)
		}
	}
}

// A config file register cannot edit safely is left alone, with the
// reason.
func TestRegisterRefusesWhatItCannotMerge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := newClientHome(t)
	h.in(e)
	withComments := "{\n  // my servers\n  \"mcpServers\": {}\n}\n"
	writeFile(t, h.files["gemini"], withComments, 0o644)
	out, err := e.command("register", "gemini", "--write").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "line 2") || !strings.Contains(string(out), "comments are not supported") {
		t.Fatalf("a JSON file with comments: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(h.files["gemini"]); string(b) != withComments {
		t.Fatal("the file was changed")
	}
	if backups, _ := filepath.Glob(h.files["gemini"] + ".bak-*"); len(backups) != 0 {
		t.Fatalf("backups: %v", backups)
	}
	out, err = e.command("register", "vim").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown client "vim"`) {
		t.Fatalf("unknown client: %v\n%s", err, out)
	}
}
