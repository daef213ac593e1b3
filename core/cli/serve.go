package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/frontend"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/httpfront"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hub"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/memtrim"
)

// configPollInterval is how often config files are checked for changes.
const configPollInterval = time.Second

// startWithoutInitialize is how long serve waits for the client's first
// request before starting the upstreams anyway.
const startWithoutInitialize = 2 * time.Second

func newServeCmd(version string) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve MCP on stdin/stdout (the default), or on a loopback URL with --http",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr != "" {
				return runServeHTTP(cmd.Context(), version, addr)
			}
			return runServe(cmd.Context(), version)
		},
	}
	cmd.Flags().StringVar(&addr, "http", "", "serve streamable HTTP at `ADDR` (127.0.0.1:PORT or [::1]:PORT) instead of stdio; requests need the bearer token in $ICA_HOME/"+httpfront.TokenFile)
	return cmd
}

func runServe(ctx context.Context, version string) error {
	// The signals that end the proxy are caught before anything starts: a
	// runtime may send SIGINT at any moment (Claude Code ends a server
	// with SIGINT, then SIGTERM), and a proxy started with SIGINT ignored
	// would otherwise lose one sent while it starts. Go's Notify also
	// undoes an ignored SIGINT or SIGHUP inherited from the parent.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// Claim stdout for JSON-RPC, and send anything else that writes to fd 1
	// (a stray print, a library) to stderr instead.
	out, err := claimStdout()
	if err != nil {
		return err
	}
	if os.Getenv(settings.EnvHub) == "on" {
		// A signal ends the front, and with it the session in the hub.
		fctx, stop := context.WithCancel(orBackground(ctx))
		signalled := make(chan struct{})
		go func() {
			select {
			case <-sigs:
				close(signalled)
				stop()
			case <-fctx.Done():
			}
		}()
		err := runFront(fctx, version, out)
		stop()
		select {
		case <-signalled:
			return nil
		default:
		}
		if err == nil || !errors.Is(err, hub.ErrNoHub) {
			return err
		}
		fmt.Fprintln(os.Stderr, "ica-mcp-proxy: serving in-process:", err)
	}
	a, err := newApp(version, "info", true)
	if err != nil {
		return err
	}
	if err := serveDebug(a.log); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var once sync.Once
	shutdown := func(why string) {
		once.Do(func() {
			a.log.Debug("shutting down", "reason", why)
			cancel()
			a.close()
		})
	}
	go func() {
		sig := <-sigs
		shutdown(sig.String())
		os.Exit(0)
	}()

	// The upstreams start on the client's first request, which says what
	// it can do (they are told), or after a moment without one.
	go memtrim.Run(ctx)
	start := func() { a.proxy.Start(ctx, configPollInterval) }
	fallback := time.AfterFunc(startWithoutInitialize, start)
	defer fallback.Stop()
	fe := frontend.New(a.proxy, a.broker, version, a.log.Named("frontend"))
	fe.OnStart = start
	err = fe.Serve(ctx, os.Stdin, out)
	shutdown("stdin closed")
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// orBackground is ctx, or a background context when there is none.
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
