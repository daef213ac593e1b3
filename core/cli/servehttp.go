package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/frontend"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/httpfront"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/memtrim"
)

// runServeHTTP serves the proxy as streamable HTTP at addr, a loopback
// address, until a signal ends it.
func runServeHTTP(ctx context.Context, version, addr string) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--http %s: the proxy listens on a loopback address only (127.0.0.1:PORT or [::1]:PORT): it acts with your logins", addr)
	}
	a, err := newApp(version, "info", true)
	if err != nil {
		return err
	}
	defer a.close()
	token, err := httpfront.LoadToken(a.settings.Home)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go memtrim.Run(ctx)

	// The app's own proxy serves the stateless requests; each legacy
	// session gets a proxy of its own, as a stdio client gets a process.
	start := func() { a.proxy.Start(ctx, configPollInterval) }
	free := frontend.New(a.proxy, a.broker, version, a.log.Named("frontend"))
	free.OnStart = start
	h := httpfront.New(httpfront.Options{
		Token:     token,
		Stateless: free,
		NewSession: func() (httpfront.Core, func(), error) {
			p, b := a.newProxy()
			fe := frontend.New(p, b, version, a.log.Named("frontend"))
			fe.OnStart = func() { p.Start(ctx, configPollInterval) }
			return fe, p.Close, nil
		},
		Logger: a.log.Named("http"),
	})
	defer h.Close() // on an early return

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--http: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a.log.Info("serving MCP over streamable HTTP", "url", "http://"+ln.Addr().String()+httpfront.Path, "token", a.settings.Home+string(os.PathSeparator)+httpfront.TokenFile)
	select {
	case err = <-served:
	case sig := <-sigs:
		a.log.Debug("shutting down", "reason", sig.String())
	case <-ctx.Done():
	}
	h.Close() // ends the open streams, which Shutdown would wait for
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shutdown)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("--http: %w", err)
	}
	return nil
}
