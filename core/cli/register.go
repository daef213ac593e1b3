package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/register"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
)

// registerContext is where this user's client configs are, and the
// absolute path of this binary, which the clients run.
func registerContext() (register.Env, string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return register.Env{}, "", fmt.Errorf("home folder: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return register.Env{}, "", fmt.Errorf("path of this binary: %w", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return register.Env{Home: home, GOOS: runtime.GOOS, Getenv: os.Getenv}, exe, nil
}

// plan plans the entry named name for client c, at its usual config path
// unless configPath is set.
func plan(env register.Env, exe string, c register.Client, configPath, name string) (*register.Plan, error) {
	path := c.ConfigPath(env)
	if configPath != "" {
		path = configPath
	}
	return register.Prepare(c, path, register.EntryFor(c, name, exe, os.Getenv))
}

func newRegisterCmd(g *globalFlags) *cobra.Command {
	var write bool
	var configPath, name string
	cmd := &cobra.Command{
		Use:   "register [CLIENT]",
		Short: "Print (or --write) the entry that registers this binary in an agent runtime's MCP config",
		Long: `register prints the entry for CLIENT's MCP config: the absolute path of this
binary, the tool separator that client's model API accepts, and the name
budget (ICA_MCP_PROXY_TOOL_NAME_MAX) that keeps every tool name within the
client's limit once it adds its prefix. With --write
it merges the entry into the client's config file after backing it up,
keeping every other entry and the file's layout; running it again changes
nothing. With no CLIENT it lists the clients and whether each is registered.

Clients: ` + strings.Join(register.Names(), ", "),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.check(); err != nil {
				return err
			}
			if len(args) == 0 {
				if write || configPath != "" {
					return fmt.Errorf("--write and --config need a CLIENT")
				}
				return listRegistrations(g, name)
			}
			c, ok := register.Lookup(args[0])
			if !ok {
				return fmt.Errorf("unknown client %q: one of %s", args[0], strings.Join(register.Names(), ", "))
			}
			env, exe, err := registerContext()
			if err != nil {
				return err
			}
			p, err := plan(env, exe, c, configPath, name)
			if err != nil {
				return err
			}
			if _, ok := c.Budget(name); !ok {
				fmt.Fprintf(os.Stderr, "warning: %s puts %q before each tool name and takes %d characters in all; with the entry name %q that leaves fewer than the %d the proxy's own tools need, so some names may be refused: choose a shorter --name\n",
					c.Title, c.ExposedName(name, ""), c.Naming.Limit, name, settings.MinToolNameMax)
			}
			if !write {
				_, _ = fmt.Fprint(stdout, p.Client.Snippet(p.Entry))
				switch p.State {
				case register.Current:
					fmt.Fprintf(os.Stderr, "%s already holds this entry.\n", p.Path)
				default:
					fmt.Fprintf(os.Stderr, "Add this to %s, or run again with --write to merge it there (a backup is kept).\n", p.Path)
				}
				return nil
			}
			if !p.NeedsWrite() {
				fmt.Fprintf(os.Stderr, "%s is registered in %s already; nothing changed.\n", p.Entry.Name, p.Path)
				return nil
			}
			backup, err := p.Write(time.Now())
			if err != nil {
				return err
			}
			if backup != "" {
				fmt.Fprintf(os.Stderr, "backed up %s to %s\n", p.Path, backup)
			}
			fmt.Fprintf(os.Stderr, "registered %s in %s (%s): restart %s to load it.\n", p.Entry.Command, p.Path, p.Client.Title, p.Client.Title)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&write, "write", "w", false, "merge the entry into the client's config file")
	cmd.Flags().StringVar(&configPath, "config", "", "the client's config file, when not at its usual place")
	cmd.Flags().StringVar(&name, "name", register.DefaultName, "the server's name in the client's config")
	return cmd
}

type registrationRow struct {
	Client     string         `json:"client"`
	Installed  bool           `json:"installed"`
	Config     string         `json:"config"`
	State      register.State `json:"state"`
	Registered string         `json:"registered_command,omitempty"`
	Separator  string         `json:"separator"`
	// NameBudget is the longest tool name the entry lets the proxy
	// expose to the client.
	NameBudget int `json:"name_budget"`
}

func registrationRows(name string) ([]registrationRow, error) {
	env, exe, err := registerContext()
	if err != nil {
		return nil, err
	}
	var rows []registrationRow
	for _, c := range register.Clients {
		budget, _ := c.Budget(name)
		r := registrationRow{Client: c.Name, Installed: c.Installed(env), Config: c.ConfigPath(env), Separator: c.Separator, NameBudget: budget}
		if p, err := plan(env, exe, c, "", name); err != nil {
			r.State = register.State("error: " + err.Error())
		} else {
			r.State, r.Registered = p.State, p.Registered
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func listRegistrations(g *globalFlags, name string) error {
	rows, err := registrationRows(name)
	if err != nil {
		return err
	}
	if g.output == "json" {
		return printJSON(stdout, rows)
	}
	var out [][]string
	for _, r := range rows {
		inst := "no"
		if r.Installed {
			inst = "yes"
		}
		out = append(out, []string{r.Client, inst, string(r.State), r.Separator, strconv.Itoa(r.NameBudget), r.Config})
	}
	return table(stdout, []string{"CLIENT", "INSTALLED", "STATE", "SEPARATOR", "NAMES", "CONFIG"}, out)
}
