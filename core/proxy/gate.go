package proxy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/trust"
)

// gated is what the trust gate decided for one configuration.
type gated struct {
	// blocked are the servers held back, and why.
	blocked map[string]string
	// displaced are an untrusted project's entries set aside because a
	// home server has the same name: the home server keeps it.
	displaced []BlockedServer
	// projectTrusted says a stdio home server may run in the project
	// folder: strict mode is off, or the folder is trusted.
	projectTrusted bool
}

// gate applies the trust gate to cfg. In strict mode, until the project
// folder is trusted as it is now (its .mcp.json, and the files of its own
// that its entries run), a project entry may only name a remote server by
// a literal URL with literal headers and a plain login
// (config.Server.Untrusted); any other entry is blocked, with what it
// uses in the reason. A home server keeps its name against an untrusted
// project's entry, and runs outside the project folder. It returns the
// configuration to use: cfg, or a copy with the home entries put back.
func (p *Proxy) gate(cfg *config.Config) (*config.Config, gated) {
	st := p.opts.Settings
	if !st.StrictTrust || st.AllowProjectStdio {
		return cfg, gated{projectTrusted: true}
	}
	var project *config.Source
	for i := range cfg.Sources {
		if cfg.Sources[i].Kind == config.SourceProject {
			project = &cfg.Sources[i]
		}
	}
	if project == nil {
		return cfg, gated{}
	}
	why := p.projectDistrust(project)
	if why == "" {
		return cfg, gated{projectTrusted: true}
	}
	g := gated{blocked: map[string]string{}}
	prefix := "blocked by the trust gate (ICA_MCP_STRICT_TRUST=1): "
	hidden := map[string]*config.Server{}
	for _, sh := range cfg.Shadowed {
		if sh.Winner == config.SourceProject && sh.Hidden != nil {
			hidden[sh.Name] = sh.Hidden
		}
	}
	if len(hidden) > 0 {
		c := *cfg
		c.Servers = slices.Clone(cfg.Servers)
		for i, s := range c.Servers {
			if home := hidden[s.Name]; home != nil {
				c.Servers[i] = home
				g.displaced = append(g.displaced, BlockedServer{Name: s.Name,
					Reason: prefix + "the project's entry " + s.Name + " would replace your home server of the same name, which is used instead; " + why})
			}
		}
		cfg = &c
	}
	for _, s := range cfg.Servers {
		if s.Source != config.SourceProject {
			continue
		}
		if uses := s.Untrusted(); len(uses) > 0 {
			g.blocked[s.Name] = prefix + "it sets " + strings.Join(uses, ", ") + ", which an untrusted project may not; " + why
		}
	}
	return cfg, g
}

// projectDistrust says why the project folder is not trusted as it is
// now, or "" when it is. The .mcp.json judged is the bytes the config
// parsed (project.SHA256), not a second read of the file.
func (p *Proxy) projectDistrust(project *config.Source) string {
	if p.opts.Trust == nil {
		return "the project is not trusted (no trust store)"
	}
	sum := project.SHA256
	switch {
	case !project.Found:
		sum = trust.NoFile
	case sum == "":
		return fmt.Sprintf("%s could not be read: %s", project.Path, project.Error)
	}
	status, err := p.opts.Trust.CheckSum(project.Path, sum)
	switch {
	case err != nil:
		return fmt.Sprintf("the project's trust cannot be checked: %v", err)
	case status.Trusted:
		return ""
	case len(status.ChangedFiles) > 0:
		return fmt.Sprintf("%s changed since the project was trusted; review it, then run: ica-mcp-proxy trust %s",
			strings.Join(status.ChangedFiles, ", "), project.Path)
	case status.Changed:
		return fmt.Sprintf("%s changed since it was trusted; review it, then run: ica-mcp-proxy trust %s", project.Path, project.Path)
	case !project.Found:
		return "the project folder is not trusted"
	}
	return fmt.Sprintf("%s is not trusted; review what it would run with `ica-mcp-proxy trust-status`, then run: ica-mcp-proxy trust %s", project.Path, project.Path)
}

// trustInputs are the files besides the config files whose change the
// gate must see at once (config.Watch): in strict mode, the trust file,
// and the project's own files that trust covers.
func (p *Proxy) trustInputs() []string {
	st := p.opts.Settings
	if !st.StrictTrust || st.AllowProjectStdio {
		return nil
	}
	out := []string{filepath.Join(st.Home, trust.FileName)}
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, s := range p.cfg.Servers {
		if s.Source == config.SourceProject {
			out = append(out, s.LocalFiles(p.opts.Cwd)...)
		}
	}
	return out
}
