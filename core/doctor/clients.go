package doctor

import (
	"fmt"
	"os"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/register"
)

// Registration is what doctor knows of one agent runtime.
type Registration struct {
	Client    register.Client
	Installed bool
	Path      string
	// Plan is nil when Err says why the config could not be read.
	Plan *register.Plan
	Err  error
}

// Clients checks the proxy's entry in every runtime found on this
// machine: present, pointing at a binary that exists, current.
func Clients(r *Report, regs []Registration) {
	found := 0
	for _, g := range regs {
		if !g.Installed {
			continue
		}
		found++
		name := g.Client.Name
		fix := fmt.Sprintf("run `ica-mcp-proxy register %s --write`", name)
		if g.Err != nil {
			r.add("client", name, Warn, g.Err.Error(), fmt.Sprintf("fix %s, or print the entry with `ica-mcp-proxy register %s` and add it by hand", g.Path, name))
			continue
		}
		p := g.Plan
		if p.Registered != "" {
			if _, err := os.Stat(p.Registered); err != nil {
				r.add("client", name, Fail, fmt.Sprintf("%s runs %s, which does not exist", g.Path, p.Registered), fix)
				continue
			}
		}
		switch p.State {
		case register.Current:
			r.add("client", name, OK, "registered in "+g.Path, "")
		case register.Outdated:
			detail := fmt.Sprintf("the entry in %s differs from this install (%s)", g.Path, strings.Join(p.Differs, ", "))
			if p.Registered != "" && p.Registered != p.Entry.Command {
				detail = fmt.Sprintf("%s runs %s, not this binary (%s)", g.Path, p.Registered, p.Entry.Command)
			}
			r.add("client", name, Warn, detail, fix)
		default:
			r.add("client", name, Warn, "installed, but the proxy is not registered in "+g.Path, fix)
		}
	}
	if found == 0 {
		r.add("client", "(none)", Warn, "no agent runtime's config folder was found", "print an entry with `ica-mcp-proxy register CLIENT`")
	}
}
