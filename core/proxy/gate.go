package proxy

import (
	"fmt"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
)

// gate applies the trust gate to cfg: in strict mode, the project's
// servers that run a command are blocked until the project file, as it is
// now, is trusted; so are its remote servers whose url, headers or api_key
// name environment variables, since connecting would send their values to
// an address the project chose. It returns the blocked servers and why.
func (p *Proxy) gate(cfg *config.Config) map[string]string {
	st := p.opts.Settings
	if !st.StrictTrust || st.AllowProjectStdio {
		return nil
	}
	var project *config.Source
	for i := range cfg.Sources {
		if cfg.Sources[i].Kind == config.SourceProject && cfg.Sources[i].Found {
			project = &cfg.Sources[i]
		}
	}
	if project == nil {
		return nil
	}
	why := ""
	if p.opts.Trust == nil {
		why = "the project is not trusted (no trust store)"
	} else if status, err := p.opts.Trust.Check(project.Path); err != nil {
		why = fmt.Sprintf("the project's trust cannot be checked: %v", err)
	} else if status.Changed {
		why = fmt.Sprintf("%s changed since it was trusted; review it, then run: ica-mcp-proxy trust %s", project.Path, project.Path)
	} else if !status.Trusted {
		why = fmt.Sprintf("%s is not trusted; review its commands with `ica-mcp-proxy trust-status`, then run: ica-mcp-proxy trust %s", project.Path, project.Path)
	} else {
		return nil
	}
	shadows := map[string]bool{}
	for _, sh := range cfg.Shadowed {
		if sh.Winner == config.SourceProject {
			shadows[sh.Name] = true
		}
	}
	blocked := map[string]string{}
	for _, s := range cfg.Servers {
		if s.Source != config.SourceProject || (s.Command == "" && len(s.EnvRefs) == 0) {
			continue
		}
		reason := "blocked by the trust gate (ICA_MCP_STRICT_TRUST=1): " + why
		if s.Command == "" {
			reason = fmt.Sprintf("blocked by the trust gate (ICA_MCP_STRICT_TRUST=1): it would send the values of %s to %s; %s",
				strings.Join(s.EnvRefs, ", "), s.URL, why)
		}
		if shadows[s.Name] {
			reason += "; it also hides your home server of the same name"
		}
		blocked[s.Name] = reason
	}
	return blocked
}
