package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/broker"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/doctor"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/pluginhost"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/register"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/trust"
)

func newDoctorCmd(version string, g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check ICA_HOME, config files, servers, plugins and registration, and say how to fix each problem",
		Long: `doctor checks the whole setup as the proxy would run it from this folder:
ICA_HOME and its state files, the plugins (integrity, start), each config
file, each server (started and listed: reachable, logged in, not blocked by
the trust gate, tools unchanged since approved), and the proxy's entry in
every agent runtime found on this machine. It prints what to do for each
problem and exits 1 when something does not work (warnings alone exit 0).
It prints text unless --output json is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			rep := &doctor.Report{}
			s, _ := settings.Load(os.Getenv)
			doctor.Home(rep, s.Home, []string{tokenstore.FileName, trust.FileName, drift.FileName, pluginhost.LockFileName})
			regs, err := doctorRegistrations()
			if err != nil {
				return err
			}
			// What the logs would say is in the report; they stay quiet.
			err = withAppLogging(cmd.Context(), version, "off", true, func(a *app) error {
				cands, err := a.host.Discover()
				if err != nil {
					return err
				}
				doctor.Plugins(cmd.Context(), rep, PluginsDir(a.settings), cands, a.host.Info)
				servers := a.proxy.ListServers()
				doctor.Configs(rep, servers.Sources)
				doctor.Servers(rep, servers, a.proxy.MirrorStatus())
				// Each runtime's proxy names the tools with the separator
				// and budget its entry sets.
				doctor.Clients(rep, regs, func(sep string, maxLen int) []string {
					return a.proxy.NamesUnder(sep, maxLen, broker.Names(sep))
				})
				return nil
			})
			if err != nil {
				return err
			}

			if cmd.Flags().Changed("output") && g.output == "json" {
				if err := printJSON(stdout, rep); err != nil {
					return err
				}
			} else {
				_, _ = fmt.Fprintf(stdout, "ica-mcp-proxy doctor (ICA_HOME=%s)\n", s.Home)
				rep.Print(stdout)
			}
			if rep.Count(doctor.Fail) > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
}

func doctorRegistrations() ([]doctor.Registration, error) {
	env, exe, err := registerContext()
	if err != nil {
		return nil, err
	}
	var regs []doctor.Registration
	for _, c := range register.Clients {
		g := doctor.Registration{Client: c, Installed: c.Installed(env), Path: c.ConfigPath(env)}
		if g.Installed {
			g.Plan, g.Err = plan(env, exe, c, "", register.DefaultName)
		}
		regs = append(regs, g)
	}
	return regs, nil
}
