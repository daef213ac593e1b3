package cli

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/auth"
)

func newAuthCmd(version string, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Log in to remote servers that require it (proxy.auth_*)",
	}
	var flow string
	login := &cobra.Command{
		Use:   "login SERVER",
		Short: "Log in: shows what to do (a URL, or a URL and a code) and waits until the login ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.check(); err != nil {
				return err
			}
			return withApp(cmd.Context(), version, false, func(a *app) error {
				return loginAndWait(cmd.Context(), a, args[0], flow)
			})
		},
	}
	login.Flags().StringVar(&flow, "flow", "", "pkce, device_code or client_credentials (default: the server's setting, else pkce)")
	status := &cobra.Command{
		Use:   "status [SERVER]",
		Short: "Show the login of one remote server, or of all; never a token",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.check(); err != nil {
				return err
			}
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			return withApp(cmd.Context(), version, false, func(a *app) error {
				st, err := a.proxy.AuthStatus(cmd.Context(), server)
				if err != nil {
					return err
				}
				if g.output == "json" {
					return printJSON(stdout, st)
				}
				var rows [][]string
				for _, s := range st {
					exp := "-"
					if s.ExpiresAt != nil {
						exp = s.ExpiresAt.Local().Format(time.DateTime)
					}
					note := s.Error
					if note == "" {
						note = s.Reason
					}
					rows = append(rows, []string{s.Server, s.State, s.Flow, cmp.Or(s.TokenType, "-"), exp, strings.Join(s.Scopes, " "), clip(note, 60)})
				}
				return table(stdout, []string{"SERVER", "STATE", "FLOW", "TOKEN", "EXPIRES", "SCOPES", "DETAIL"}, rows)
			})
		},
	}
	refresh := &cobra.Command{
		Use:   "refresh SERVER",
		Short: "Renew a server's token now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd.Context(), version, false, func(a *app) error {
				st, err := a.proxy.AuthRefresh(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printJSON(stdout, st)
			})
		},
	}
	logout := &cobra.Command{
		Use:   "logout SERVER",
		Short: "Revoke (where the server allows) and delete a server's token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd.Context(), version, false, func(a *app) error {
				had, err := a.proxy.AuthLogout(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if !had {
					fmt.Fprintf(os.Stderr, "%s had no login\n", args[0])
				}
				return nil
			})
		},
	}
	cmd.AddCommand(login, status, refresh, logout)
	return cmd
}

// loginAndWait starts a login, tells the user what to do on stderr, and
// waits with a progress line until it ends.
func loginAndWait(ctx context.Context, a *app, server, flow string) error {
	st, err := a.proxy.AuthStart(ctx, server, flow)
	if err != nil {
		return err
	}
	if st.Done {
		kind := ""
		if sts, err := a.proxy.AuthStatus(ctx, server); err == nil && len(sts) == 1 && sts[0].TokenType != "" {
			kind = ", " + sts[0].TokenType + " token"
		}
		fmt.Fprintf(os.Stderr, "logged in to %s (%s%s)\n", server, st.Flow, kind)
		return nil
	}
	fmt.Fprintln(os.Stderr, st.Message)
	if st.UserCode != "" {
		fmt.Fprintf(os.Stderr, "\n    code: %s\n\n", st.UserCode)
	}
	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr)
			return ctx.Err()
		case <-tick.C:
		}
		sts, err := a.proxy.AuthStatus(ctx, server)
		if err != nil {
			return err
		}
		s := sts[0]
		switch s.State {
		case auth.StatePending:
			fmt.Fprintf(os.Stderr, "\rwaiting for the login to %s … %s ", server, time.Since(start).Round(time.Second))
		case auth.StateOK:
			fmt.Fprintf(os.Stderr, "\rlogged in to %s (%s, %s token)%s\n", server, s.Flow, s.TokenType, strings.Repeat(" ", 20))
			return nil
		default:
			fmt.Fprintln(os.Stderr)
			if s.Error != "" {
				return fmt.Errorf("login to %s failed: %s", server, s.Error)
			}
			return fmt.Errorf("login to %s ended in state %s", server, s.State)
		}
	}
}
