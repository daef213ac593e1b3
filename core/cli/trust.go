package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/trust"
)

// trustTarget resolves the PATH argument (default: the working directory)
// to a project .mcp.json, the commands it would run and its servers' names.
func trustTarget(args []string) (string, []string, []string, error) {
	path := "."
	if len(args) == 1 {
		path = args[0]
	}
	file, err := trust.ProjectFile(path)
	if err != nil {
		return "", nil, nil, err
	}
	if _, err := os.Stat(file); err != nil {
		return "", nil, nil, fmt.Errorf("no project file: %w", err)
	}
	// Read the file alone, as the project's config, to list what it runs.
	cfg := config.Load(config.Options{Cwd: dirOf(file), Home: os.DevNull, LookupEnv: os.LookupEnv})
	var lines, names []string
	for _, s := range cfg.Servers {
		if s.Source != config.SourceProject {
			continue
		}
		names = append(names, s.Name)
		switch {
		case s.Command != "":
			line := "  " + s.Name + ": " + shellQuote(append([]string{s.Command}, s.Args...))
			if len(s.Env) > 0 {
				var env []string
				for k := range s.Env {
					env = append(env, k)
				}
				line += "   (env: " + strings.Join(sortStrings(env), ", ") + ")"
			}
			if s.Cwd != "" {
				line += "   (in " + s.Cwd + ")"
			}
			lines = append(lines, line)
		case s.URL != "":
			line := "  " + s.Name + ": remote " + s.URL
			if len(s.EnvRefs) > 0 {
				line += "   (sends the values of " + strings.Join(s.EnvRefs, ", ") + ")"
			}
			lines = append(lines, line)
		}
	}
	return file, lines, names, nil
}

func newTrustCmds() []*cobra.Command {
	store := func() *trust.Store {
		s, _ := settings.Load(os.Getenv)
		return trust.New(s.Home)
	}
	trustCmd := &cobra.Command{
		Use:   "trust [PATH]",
		Short: "Trust a project's .mcp.json as it is now: its commands may run (ICA_MCP_STRICT_TRUST=1)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, lines, names, err := trustTarget(args)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%s will run:\n%s\n", file, strings.Join(orNone(lines), "\n"))
			st, err := store().Trust(file)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "trusted %s (sha256 %s); any change to it needs trusting again\n", st.Real, st.SHA256[:16])
			return approveDrift(names)
		},
	}
	untrustCmd := &cobra.Command{
		Use:   "untrust [PATH]",
		Short: "Forget a project's trust: its commands are blocked again in strict mode",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "."
			if len(args) == 1 {
				path = args[0]
			}
			file, err := trust.ProjectFile(path)
			if err != nil {
				return err
			}
			had, err := store().Untrust(file)
			if err != nil {
				return err
			}
			if !had {
				fmt.Fprintf(os.Stderr, "%s was not trusted\n", file)
			}
			return nil
		},
	}
	statusCmd := &cobra.Command{
		Use:   "trust-status [PATH]",
		Short: "Show whether a project's .mcp.json is trusted, and what it would run",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, lines, _, err := trustTarget(args)
			if err != nil {
				return err
			}
			st, err := store().Check(file)
			if err != nil {
				return err
			}
			s, _ := settings.Load(os.Getenv)
			return printJSON(stdout, map[string]any{
				"path": st.Path, "real_path": st.Real, "sha256": st.SHA256, "trusted": st.Trusted, "changed_since_trusted": st.Changed,
				"strict_trust": s.StrictTrust, "bypassed_for_this_shell": s.AllowProjectStdio,
				"would_run": orNone(lines),
			})
		},
	}
	return []*cobra.Command{trustCmd, untrustCmd, statusCmd}
}

// approveDrift accepts, for a project just trusted, the tools of its
// servers that changed since they were approved, naming each.
func approveDrift(servers []string) error {
	s, _ := settings.Load(os.Getenv)
	hashes := drift.New(s.Home)
	for _, name := range servers {
		changes, err := hashes.Changes(name)
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			continue
		}
		if _, err := hashes.Approve(name); err != nil {
			return err
		}
		for _, c := range changes {
			fmt.Fprintf(os.Stderr, "accepted the changed %s of %s's tool %s\n", strings.Join(c.What, " and "), name, c.Tool)
		}
	}
	return nil
}

func orNone(lines []string) []string {
	if len(lines) == 0 {
		return []string{"  (nothing)"}
	}
	return lines
}

func dirOf(file string) string { return filepath.Dir(file) }

func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}

// shellQuote renders a command line the way a shell would need it, so the
// user sees exactly what will run.
func shellQuote(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ':' || r == '@' || r == '+' || r == ',' ||
				(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
