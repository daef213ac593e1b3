package doctor

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/proxy"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// Configs checks each config file: found, parsed, how many servers.
func Configs(r *Report, sources []config.Source) {
	for _, s := range sources {
		switch {
		case s.Error != "":
			r.add("config", s.Path, Fail, s.Error, "fix the file; its servers are not loaded until it parses")
		case !s.Found:
			r.add("config", s.Path, OK, fmt.Sprintf("no %s config here (optional)", s.Kind), "")
		default:
			r.add("config", s.Path, OK, fmt.Sprintf("%d server(s)", s.Servers), "")
		}
	}
}

// Servers checks every configured server as the proxy saw it after
// starting them and listing their tools: reachable, logged in, not blocked
// by the trust gate, tools unchanged.
func Servers(r *Report, rep proxy.ServersReport, ms proxy.MirrorStatus) {
	if len(rep.Servers) == 0 {
		r.add("server", "(none)", Warn, "no upstream servers are configured", "add some to .mcp.json or $ICA_HOME/mcp-servers.json (docs/configuration.md)")
	}
	for _, s := range rep.Servers {
		subject := s.Name
		switch s.Status {
		case upstream.StatusOK:
			tools := "?"
			if s.Tools != nil {
				tools = fmt.Sprint(*s.Tools)
			}
			r.add("server", subject, OK, fmt.Sprintf("%s, %s tools, %d mirrored", s.Transport, tools, s.Mirrored), "")
		case upstream.StatusLoginRequired:
			r.add("server", subject, Fail, "needs a login", fmt.Sprintf("run `ica-mcp-proxy auth login %s` (or proxy.auth_start from the agent)", s.Name))
		case proxy.StatusBlocked:
			dir := filepath.Dir(s.File)
			r.add("server", subject, Fail, s.Error,
				fmt.Sprintf("review what it runs with `ica-mcp-proxy trust-status %s`, then `ica-mcp-proxy trust %s`", dir, dir))
		case upstream.StatusError:
			fix := fmt.Sprintf("check its entry in %s; `ica-mcp-proxy servers -o table` shows the state", s.File)
			if strings.HasPrefix(s.Error, "config:") {
				fix = fmt.Sprintf("fix its entry in %s", s.File)
			}
			r.add("server", subject, Fail, s.Error, fix)
		default:
			r.add("server", subject, Warn, "did not answer in time (state "+s.Status+")",
				"a slow start? try `ica-mcp-proxy tools --server "+s.Name+"`; ICA_MCP_PROXY_LIST_WAIT_S waits longer")
		}
		for _, w := range s.Warnings {
			r.add("server", subject, Warn, w, fmt.Sprintf("see the entry in %s", s.File))
		}
	}
	for _, sh := range rep.Shadowed {
		r.add("server", sh.Name, Warn, fmt.Sprintf("defined in both files: the %s entry is used, the %s one is hidden", sh.Winner, sh.Loser),
			"rename one of them, or set ICA_MCP_CONFIG_PREFER_HOME=1 if the home entry should win")
	}
	level := Warn
	if ms.Withheld {
		level = Fail
	}
	for _, c := range ms.ToolsChanged {
		detail := fmt.Sprintf("tool %s changed its %s since approved", c.Tool, strings.Join(c.What, " and "))
		if ms.Withheld {
			detail += "; withheld (strict mode)"
		}
		r.add("tools", c.Server, level, detail,
			fmt.Sprintf("read it with `ica-mcp-proxy tools --server %s --schema`, then `ica-mcp-proxy tools approve %s`", c.Server, c.Server))
	}
}
