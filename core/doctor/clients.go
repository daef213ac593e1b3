package doctor

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/register"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
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

// Namer names the mirrored tools as a proxy run with the separator sep and
// the name budget maxLen would; nil when the servers could not be listed.
type Namer func(sep string, maxLen int) []string

// Clients checks the proxy's entry in every runtime found on this
// machine: present, pointing at a binary that exists, current, and, with
// names, exposing no tool name the runtime's model API would refuse.
func Clients(r *Report, regs []Registration, names Namer) {
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
		if bad := overBudget(g.Client, p, names); bad != "" {
			r.add("client", name, Fail, bad, fix+" (it sets the name budget for this runtime), or give long servers a shorter prefix")
			continue
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

// overBudget says which tool names the runtime's model would be sent that
// its API refuses (too long once prefixed, or dotted where dots are
// refused), as the registered entry runs the proxy; "" when none.
func overBudget(c register.Client, p *register.Plan, names Namer) string {
	if names == nil || p.RegisteredEnv == nil {
		return ""
	}
	// The settings as the entry's environment makes them, defaults and
	// floors included.
	rs, _ := settings.Load(func(k string) string { return p.RegisteredEnv[k] })
	sep, maxLen := rs.Separator, rs.ToolNameMax
	var bad []string
	for _, n := range names(sep, maxLen) {
		full := c.ExposedName(p.Entry.Name, n)
		if len(full) > c.Naming.Limit || (c.Separator != "." && strings.Contains(n, ".")) {
			bad = append(bad, full)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	sort.Strings(bad)
	total, more := len(bad), ""
	if total > 5 {
		more = fmt.Sprintf(" and %d more", total-5)
		bad = bad[:5]
	}
	return fmt.Sprintf("%s's model API would refuse the whole request: %d tool name(s) over its limit of %d characters or with a dot it refuses, as registered (separator %q, names up to %d): %s%s",
		c.Title, total, c.Naming.Limit, sep, maxLen, strings.Join(bad, ", "), more)
}
