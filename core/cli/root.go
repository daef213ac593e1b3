package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/proctree"
)

// exitError carries an exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the command line and returns the exit code.
//
// bundled names the plugins this executable also serves when run under
// their names (see plugins/bundled); `plugins install` links them into
// $ICA_HOME/plugins.
func Main(version string, args []string, bundled []string) int {
	if err := proctree.ContainChildren(); err != nil {
		// Not fatal: the children still end on an orderly shutdown.
		fmt.Fprintln(os.Stderr, "ica-mcp-proxy: warning: children may outlive a killed proxy:", err)
	}
	ensureBundled(bundled)
	root := newRoot(version, bundled)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		// Errors may carry a server's text (metadata, challenges): no
		// terminal escapes reach the user's terminal.
		lines := strings.Split(err.Error(), "\n")
		for i, l := range lines {
			lines[i] = terminalSafe(l)
		}
		fmt.Fprintln(os.Stderr, "ica-mcp-proxy:", strings.Join(lines, "\n"))
		return 1
	}
	return 0
}

type globalFlags struct {
	output string
}

func newRoot(version string, bundled []string) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "ica-mcp-proxy",
		Short: "One MCP server that mirrors and brokers all your upstream MCP servers",
		Long: `ica-mcp-proxy is registered once in each agent runtime. It mirrors the tools of
the upstream MCP servers defined in ./.mcp.json and $ICA_HOME/mcp-servers.json as
<server>.<tool>, and keeps proxy.* broker tools that always work.

With no command it serves MCP on stdin/stdout.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), version)
		},
	}
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "json", "output format of client commands: json or table")
	root.AddCommand(newTrustCmds()...)
	root.AddCommand(newApproveCmd())
	root.AddCommand(
		newServeCmd(version),
		newHubCmd(version, g),
		newServersCmd(version, g),
		newToolsCmd(version, g),
		newCallCmd(version, g),
		newMirrorStatusCmd(version, g),
		newAuthCmd(version, g),
		newPluginsCmd(version, bundled, g),
		newRegisterCmd(g),
		newDoctorCmd(version, g),
		newVersionCmd(version),
	)
	return root
}

func (g *globalFlags) check() error {
	if g.output != "json" && g.output != "table" {
		return fmt.Errorf("--output must be json or table, not %q", g.output)
	}
	return nil
}
