package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/broker"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
)

// withApp runs fn with a core whose tool lists are loaded (as a client
// would see them after tools/list), then shuts it down.
func withApp(ctx context.Context, version string, list bool, fn func(*app) error) error {
	return withAppLogging(ctx, version, "warn", list, fn)
}

// withAppLogging is withApp with the log level used when ICA_LOG_LEVEL is
// unset.
func withAppLogging(ctx context.Context, version, level string, list bool, fn func(*app) error) error {
	a, err := newApp(version, level, false)
	if err != nil {
		return err
	}
	defer a.close()
	if list {
		a.proxy.Start(ctx, 0)
		a.proxy.WaitListed(ctx)
	}
	return fn(a)
}

func newServersCmd(version string, g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "servers",
		Short: "List the upstream servers, their state and tool counts (proxy.list_servers)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			return withApp(cmd.Context(), version, true, func(a *app) error {
				rep := a.proxy.ListServers()
				if g.output == "json" {
					return printJSON(stdout, rep)
				}
				var rows [][]string
				for _, s := range rep.Servers {
					tools := "-"
					if s.Tools != nil {
						tools = strconv.Itoa(*s.Tools)
					}
					rows = append(rows, []string{s.Name, string(s.Source), s.Transport, s.Status, tools, strconv.Itoa(s.Mirrored), clip(s.Error, 70)})
				}
				return table(stdout, []string{"NAME", "SOURCE", "TRANSPORT", "STATE", "TOOLS", "MIRRORED", "ERROR"}, rows)
			})
		},
	}
}

func newToolsCmd(version string, g *globalFlags) *cobra.Command {
	var server string
	var schema bool
	cmd := &cobra.Command{
		Use:   "tools",
		Short: "List the mirrored tools, or every tool of one server with --server (proxy.list_tools)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			return withApp(cmd.Context(), version, true, func(a *app) error {
				if server != "" {
					// The user reviews here what is withheld from the model.
					rep, err := a.proxy.ReviewTools(cmd.Context(), server, schema)
					if err != nil {
						return err
					}
					if g.output == "json" {
						return printJSON(stdout, rep)
					}
					var rows [][]string
					for _, t := range rep.Tools {
						as := t.MirroredAs
						if t.Withheld != "" {
							as = "(withheld)"
						}
						rows = append(rows, []string{t.Name, as, clip(t.Description, 80)})
					}
					return table(stdout, []string{"TOOL", "MIRRORED AS", "DESCRIPTION"}, rows)
				}
				t := a.proxy.Table()
				type row struct {
					Name        string          `json:"name"`
					Server      string          `json:"server"`
					Tool        string          `json:"tool"`
					Description string          `json:"description,omitempty"`
					InputSchema json.RawMessage `json:"inputSchema,omitempty"`
				}
				out := []row{}
				for _, x := range t.Tools {
					var d struct {
						Description string          `json:"description"`
						InputSchema json.RawMessage `json:"inputSchema"`
					}
					_ = json.Unmarshal(x.Definition, &d)
					r := row{Name: x.Exposed, Server: x.Server, Tool: x.Name, Description: d.Description}
					if schema {
						r.InputSchema = d.InputSchema
					}
					out = append(out, r)
				}
				if g.output == "json" {
					return printJSON(stdout, out)
				}
				var rows [][]string
				for _, r := range out {
					rows = append(rows, []string{r.Name, r.Server, clip(r.Description, 80)})
				}
				return table(stdout, []string{"NAME", "SERVER", "DESCRIPTION"}, rows)
			})
		},
	}
	cmd.Flags().StringVarP(&server, "server", "s", "", "list every tool of this server, mirrored or not")
	cmd.Flags().BoolVar(&schema, "schema", false, "include input schemas")
	cmd.AddCommand(newApproveCmd())
	return cmd
}

// newApproveCmd is `approve SERVER [TOOL]`, also `tools approve`.
func newApproveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "approve SERVER [TOOL]",
		Short: "Accept the current form of SERVER's tools, or of one TOOL: changed, new, or flagged as poisoning (withheld in strict mode until approved)",
		Long: `Accept the current description and schemas of SERVER's tools, or of TOOL
alone, as reviewed. In strict mode (ICA_MCP_STRICT_TRUST=1) a tool whose
description or schema changed since it was approved, a tool new to a server
already approved, and a tool the poisoning checks flag are withheld from
every path (tools/list, proxy.list_tools, proxy.search_tools, proxy.call)
until approved. Review first: ica-mcp-proxy tools --server SERVER --schema.
A running proxy serves an approved tool at its next listing of the server.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			st, _ := settings.Load(os.Getenv)
			tool := ""
			if len(args) == 2 {
				tool = args[1]
			}
			n, err := drift.New(st.Home).Approve(args[0], tool)
			if err != nil {
				return err
			}
			if tool != "" {
				fmt.Fprintf(os.Stderr, "approved %s's tool %s as it is now (%d changed)\n", terminalSafe(args[0]), terminalSafe(tool), n)
				return nil
			}
			fmt.Fprintf(os.Stderr, "approved %d changed tool(s) of %s; all of its tools are marked reviewed as they are now\n", n, terminalSafe(args[0]))
			return nil
		},
	}
}

func newCallCmd(version string, g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "call SERVER TOOL [JSON]",
		Short: "Call a tool of an upstream server (proxy.call); JSON is the arguments object",
		Long: `Call a tool of an upstream server and print its result. JSON is the arguments
object; "-" reads it from stdin. The exit code is 1 when the result is an error.`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.check(); err != nil {
				return err
			}
			var argJSON json.RawMessage
			if len(args) == 3 {
				raw := []byte(args[2])
				if args[2] == "-" {
					var err error
					if raw, err = io.ReadAll(os.Stdin); err != nil {
						return fmt.Errorf("read arguments from stdin: %w", err)
					}
				}
				if !json.Valid(raw) {
					return fmt.Errorf("arguments are not valid JSON: %s", clip(string(raw), 80))
				}
				argJSON = raw
			}
			return withApp(cmd.Context(), version, false, func(a *app) error {
				callArgs, _ := json.Marshal(map[string]any{"server": args[0], "tool": args[1], "args": argJSON})
				res, err := a.broker.Call(cmd.Context(), broker.Name(broker.Call, a.settings.Separator), callArgs)
				if err != nil {
					return err
				}
				var r struct {
					Content []struct {
						Type string `json:"type"`
						Text string `json:"text"`
					} `json:"content"`
					IsError bool `json:"isError"`
				}
				_ = json.Unmarshal(res, &r)
				if g.output == "json" {
					var v any
					_ = json.Unmarshal(res, &v)
					if err := printJSON(stdout, v); err != nil {
						return err
					}
				} else {
					for _, c := range r.Content {
						if c.Type == "text" {
							_, _ = fmt.Fprintln(stdout, c.Text)
						} else {
							_, _ = fmt.Fprintf(stdout, "[%s content]\n", c.Type)
						}
					}
				}
				if r.IsError {
					return exitError{1}
				}
				return nil
			})
		},
	}
}

func newMirrorStatusCmd(version string, g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "mirror-status",
		Short: "Show what is mirrored, what the guardrails cut and why (proxy.mirror_status)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			return withApp(cmd.Context(), version, true, func(a *app) error {
				st := a.proxy.MirrorStatus()
				if g.output == "json" {
					return printJSON(stdout, st)
				}
				_, _ = fmt.Fprintf(stdout, "servers: %d mirrored of %d\ntools:   %d mirrored of %d\ntruncated: %v\n\n",
					st.ServersMirrored, st.ServersTotal, st.ToolsMirrored, st.ToolsTotal, st.Truncated)
				var rows [][]string
				for _, r := range st.Reasons {
					rows = append(rows, []string{r.Server, r.Cap, clip(r.Detail, 90)})
				}
				if len(rows) > 0 {
					if err := table(stdout, []string{"SERVER", "CAP", "DETAIL"}, rows); err != nil {
						return err
					}
					_, _ = fmt.Fprintln(stdout)
				}
				rows = nil
				for _, src := range st.Sources {
					state := "not found"
					if src.Found {
						state = fmt.Sprintf("%d servers", src.Servers)
					}
					if src.Error != "" {
						state = src.Error
					}
					rows = append(rows, []string{string(src.Kind), src.Path, clip(state, 80)})
				}
				return table(stdout, []string{"SOURCE", "PATH", "STATE"}, rows)
			})
		},
	}
}
