package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/configview"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/frontend"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hub"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hubsock"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/proxy"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/share"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/memtrim"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/procmem"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/proctree"
)

// The per-user hub, in development: with ICA_MCP_PROXY_HUB=on, serve is
// a front that hands its session to the hub of its $ICA_HOME, starting
// it when none runs; the hub serves each front's session with a proxy
// core of its own, and the cores share their upstreams (core/share) and
// each project's configuration (core/configview).

func newHubCmd(version string, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "hub",
		Short:  "The per-user hub that serves every session of this $ICA_HOME (ICA_MCP_PROXY_HUB=on)",
		Hidden: true,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "serve",
		Short: "Run the hub (fronts start it themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHub(cmd.Context(), version)
		},
	})
	cmd.AddCommand(
		newHubControlCmd(version, hub.ControlStatus, "Show the hub's sessions, shared servers, their instances and memory", g),
		newHubControlCmd(version, hub.ControlStop, "Stop the hub: its sessions end, and its upstreams with it", g),
	)
	return cmd
}

// hubLinger is how long a hub with no session stays.
func hubLinger() time.Duration {
	if v, err := strconv.ParseFloat(os.Getenv(settings.EnvHubLinger), 64); err == nil && v > 0 {
		return time.Duration(v * float64(time.Second))
	}
	return 10 * time.Minute
}

func runHub(ctx context.Context, version string) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	a, err := newApp(version, "info", true)
	if err != nil {
		return err
	}
	defer a.close()
	l, err := hubsock.Listen(a.settings.Home, version)
	if err != nil {
		return err
	}
	l.Refused = func(err error) { a.log.Warn("a connection refused", "error", err) }
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	// The hub is a core, idle between turns: what it grew to under load
	// goes back to the system, as a proxy's does.
	go memtrim.Run(ctx)
	shared := share.New(a.host, a.log.Named("share"), share.DefaultMaxInstances, hubLinger())
	defer shared.Close()
	views := configview.New()
	pidFile := filepath.Join(a.settings.Home, "run", hubsock.Name(version)+".pid")
	_ = os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	defer func() { _ = os.Remove(pidFile) }()
	srv := &hub.Server{Version: version, Linger: hubLinger(), Log: a.log.Named("hub"),
		Status: func() any {
			extra := hubExtra{Shared: shared.Status(), Views: views.Status()}
			if kib, ok := procmem.Tree(os.Getpid()); ok {
				extra.PSSKiB = &kib
			}
			return extra
		},
		Session: func(ctx context.Context, hello hub.Hello, in io.Reader, out, logs io.Writer) error {
			share := func(log hclog.Logger) proxy.ShareFunc { return shared.For(hello.Session, log) }
			return a.serveFront(ctx, version, hello, in, out, logs, share, views)
		}}
	a.log.Info("the hub serves", "at", hubsock.Address(a.settings.Home, version), "pid", os.Getpid())
	return srv.Serve(ctx, l)
}

// serveFront serves one front's session as a proxy of its own would: its
// settings, folder and environment.
func (a *app) serveFront(ctx context.Context, version string, hello hub.Hello, in io.Reader, out, logs io.Writer, share func(hclog.Logger) proxy.ShareFunc, views *configview.Registry) error {
	env := map[string]string{}
	for _, kv := range hello.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	s, _ := settings.Load(func(k string) string { return env[k] })
	if s.Home != a.settings.Home {
		return fmt.Errorf("the front's $ICA_HOME is %s, the hub's %s", s.Home, a.settings.Home)
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	// log is the session's: to its front's stderr and the hub's log;
	// own, to its front's stderr alone (where the shared upstreams' logs
	// go: the hub's log has them once).
	log, own := a.log.With("session", hello.Session), hclog.Logger(nil)
	if logs != nil {
		sink := hub.NewLogSink(logs, logSinkLimit)
		defer sink.Close(outFlushWait)
		own = sessionLogger(sink, env[settings.EnvLogLevel], s.LogLevel)
		il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: own.Name(), Level: own.GetLevel(), Output: sink})
		il.RegisterSink(hclog.NewSinkAdapter(&hclog.LoggerOptions{Name: own.Name(), Level: a.log.GetLevel(), Output: os.Stderr}))
		log = il.With("session", hello.Session)
	}
	cfg := views.For(config.Options{Cwd: hello.Cwd, Home: s.Home, PreferHome: s.PreferHome, LookupEnv: lookup})
	defer cfg.Close()
	p, b := a.newProxyFor(session{Settings: s, Cwd: hello.Cwd, LookupEnv: lookup,
		Environ: func() []string { return hello.Env }, Share: share(own), Config: cfg, Log: log})
	defer p.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Writes to the client never wait for it (see hub.OutQueue); one that
	// stops reading ends its session, not the others'.
	q := hub.NewOutQueue(out, outQueueLimit, cancel)
	defer func() { _ = q.Close(outFlushWait) }()
	fe := frontend.New(p, b, version, log.Named("frontend"))
	fe.OnStart = func() { p.Start(ctx, configPollInterval) }
	err := fe.Serve(ctx, in, q)
	if cause := context.Cause(ctx); errors.Is(cause, hub.ErrStalled) {
		return cause
	}
	return err
}

// sessionLogger is a hub session's logger to its front's stderr (sink),
// at the level the session's environment sets (set, when it sets one;
// info otherwise, as a proxy of its own logs).
func sessionLogger(sink io.Writer, set, level string) hclog.Logger {
	if set == "" {
		level = "info"
	}
	return hclog.New(&hclog.LoggerOptions{Name: "ica-mcp-proxy", Level: hclog.LevelFromString(level), Output: sink})
}

// logSinkLimit is how much of a session's log may wait for its front's
// stderr before lines are dropped.
const logSinkLimit = 1 << 20

// outQueueLimit is how much output may wait for a hub session's client
// before the session is ended as stalled; outFlushWait, how long what
// waits may take to go out once the session ends.
const (
	outQueueLimit = 64 << 20
	outFlushWait  = 5 * time.Second
)

// runFront hands the session to the hub; an error wrapping hub.ErrNoHub
// means it was not taken, and the caller serves it in-process.
func runFront(ctx context.Context, version string, out *os.File) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, _ := settings.Load(os.Getenv)
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("%w: %w", hub.ErrNoHub, err)
	}
	f := &hub.Front{
		Home: s.Home, Version: version,
		Hello: hub.Hello{Cwd: cwd, Env: os.Environ()},
		// Where the front cannot hand over its stdin and stdout
		// (Windows), it relays the session's bytes.
		Relay:  !hubsock.CanPassFiles,
		Stdin:  os.Stdin,
		Stdout: out,
		Stderr: os.Stderr,
		Resuming: func() {
			fmt.Fprintln(os.Stderr, "ica-mcp-proxy: the hub died; the session goes on with a new hub (calls in flight are lost)")
		},
		StartHub: func() error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			logFile, err := os.OpenFile(filepath.Join(s.Home, "run", hubsock.Name(version)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			defer func() { _ = logFile.Close() }()
			cmd := exec.Command(exe, "hub", "serve")
			cmd.Env, cmd.Dir = os.Environ(), s.Home
			cmd.Stdout, cmd.Stderr = logFile, logFile
			if err := proctree.StartDetached(cmd); err != nil {
				return err
			}
			return cmd.Process.Release()
		},
	}
	err = f.Run(ctx)
	if err != nil && !errors.Is(err, hub.ErrNoHub) {
		return fmt.Errorf("the hub: %w", err)
	}
	return err
}
