package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/trust"
)

// review is what one project entry would do on this machine, for the
// user to read before trusting the project.
type review struct {
	Name string `json:"name"`
	// Command is the command line as written (${VAR} unexpanded).
	Command []string `json:"command,omitempty"`
	URL     string   `json:"url,omitempty"`
	config.Exec
	// LocalFiles are the project's own files it runs or reads, whose
	// content trust covers.
	LocalFiles []string `json:"local_files,omitempty"`
	// UntilTrusted names what it uses that an untrusted project may not;
	// in strict mode the entry is blocked until the project is trusted.
	UntilTrusted []string `json:"blocked_until_trusted,omitempty"`
	Error        string   `json:"error,omitempty"`
}

// trustTarget resolves the PATH argument (default: the working directory)
// to a project .mcp.json (which need not exist: a folder can be trusted
// for the home servers to run in) and what each of its entries would do.
func trustTarget(args []string) (string, []review, error) {
	path := "."
	if len(args) == 1 {
		path = args[0]
	}
	file, err := trust.ProjectFile(path)
	if err != nil {
		return "", nil, err
	}
	if fi, err := os.Stat(filepath.Dir(file)); err != nil || !fi.IsDir() {
		return "", nil, fmt.Errorf("no project folder %s", filepath.Dir(file))
	}
	// Read the file alone, as the project's config, to list what it runs.
	cfg := config.Load(config.Options{Cwd: dirOf(file), Home: os.DevNull, LookupEnv: os.LookupEnv})
	for _, src := range cfg.Sources {
		if src.Kind == config.SourceProject && src.Error != "" {
			return "", nil, fmt.Errorf("%s", src.Error)
		}
	}
	var out []review
	for _, s := range cfg.Servers {
		if s.Source != config.SourceProject {
			continue
		}
		out = append(out, review{
			Name: s.Name, Command: s.DisplayCommand(), URL: s.DisplayURL(), Exec: s.Exec(dirOf(file)),
			LocalFiles: s.LocalFiles(dirOf(file)), UntilTrusted: s.Untrusted(), Error: s.Error,
		})
	}
	return file, out, nil
}

// describe renders the reviews as lines for a terminal, escaped.
func describe(rs []review) []string {
	var lines []string
	for _, r := range rs {
		head := "  " + r.Name + ": "
		switch {
		case len(r.Command) > 0:
			head += "runs " + shellQuote(r.Command)
		case r.URL != "":
			head += "remote " + r.URL
		}
		lines = append(lines, terminalSafe(head))
		detail := func(label string, v ...string) {
			if len(v) > 0 {
				lines = append(lines, terminalSafe("      "+label+": "+strings.Join(v, ", ")))
			}
		}
		if len(r.Command) > 0 {
			detail("in", r.Cwd)
		}
		detail("env", r.Env...)
		for _, c := range r.Commands[min(len(r.Commands), boolInt(len(r.Command) > 0)):] {
			detail("login runs", shellQuote(c))
		}
		detail("reads", r.Files...)
		detail("loads", r.Plugins...)
		detail("trust covers the content of", r.LocalFiles...)
		detail("blocked until trusted (strict mode)", r.UntilTrusted...)
		if r.Error != "" {
			detail("not usable", r.Error)
		}
	}
	return lines
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func localFiles(rs []review) []string {
	var files []string
	for _, r := range rs {
		files = append(files, r.LocalFiles...)
	}
	return files
}

func names(rs []review) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
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
			file, rs, err := trustTarget(args)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%s will run:\n%s\n", terminalSafe(file), strings.Join(orNone(describe(rs)), "\n"))
			st, err := store().Trust(file, localFiles(rs))
			if err != nil {
				return err
			}
			if st.SHA256 == trust.NoFile {
				fmt.Fprintf(os.Stderr, "trusted the folder %s, which has no .mcp.json: your home servers may run in it; a .mcp.json added later needs trusting\n", terminalSafe(filepath.Dir(st.Real)))
			} else {
				fmt.Fprintf(os.Stderr, "trusted %s (sha256 %s); any change to it, or to the files it runs, needs trusting again\n", terminalSafe(st.Real), st.SHA256[:16])
			}
			return approveDrift(names(rs))
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
			file, rs, err := trustTarget(args)
			if err != nil {
				return err
			}
			st, err := store().Check(file)
			if err != nil {
				return err
			}
			s, _ := settings.Load(os.Getenv)
			if rs == nil {
				rs = []review{}
			}
			return printJSON(stdout, map[string]any{
				"path": st.Path, "real_path": st.Real, "sha256": st.SHA256, "trusted": st.Trusted, "changed_since_trusted": st.Changed,
				"changed_files": st.ChangedFiles,
				"strict_trust":  s.StrictTrust, "bypassed_for_this_shell": s.AllowProjectStdio,
				"would_run": orNone(describe(rs)), "entries": rs,
			})
		},
	}
	return []*cobra.Command{trustCmd, untrustCmd, statusCmd}
}

// approveDrift accepts, for a project just trusted, the tools of its
// servers that changed since they were approved, naming each. It does not
// mark them reviewed: a tool flagged as poisoning waits for `approve`.
func approveDrift(servers []string) error {
	s, _ := settings.Load(os.Getenv)
	hashes := drift.New(s.Home)
	for _, name := range servers {
		changes, err := hashes.AcceptChanges(name)
		if err != nil {
			return err
		}
		for _, c := range changes {
			fmt.Fprintf(os.Stderr, "accepted the changed %s of %s's tool %s\n", strings.Join(c.What, " and "), terminalSafe(name), terminalSafe(c.Tool))
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
