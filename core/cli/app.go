// Package cli is the ica-mcp-proxy command line: `serve` (the default) and
// the client commands, which run the same core in-process and print JSON or
// a table.
package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/auth"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/broker"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/pluginhost"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/proxy"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/tokenstore"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/toolcache"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/trust"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstreamfacts"
)

// app is one instance of the core.
type app struct {
	settings  settings.Settings
	log       hclog.Logger
	host      *pluginhost.Host
	integrity *pluginhost.Integrity
	proxy     *proxy.Proxy
	broker    *broker.Broker
	version   string
	cwd       string
	memo      *upstreamfacts.Memo
	logins    *auth.Manager
	// drift is the tool hashes' store of the app's $ICA_HOME, one for
	// every core: it keeps the file as last read while it is unchanged.
	drift *drift.Store
}

// PluginsDir is where plugins are found.
func PluginsDir(s settings.Settings) string { return filepath.Join(s.Home, "plugins") }

// newApp builds the core. defaultLevel is used when ICA_LOG_LEVEL is unset.
// Only a serving proxy starts servers lazily: the CLI's commands report on
// the servers as they are, so every server they list runs.
func newApp(version, defaultLevel string, serving bool) (*app, error) {
	s, warnings := settings.Load(os.Getenv)
	if !serving {
		s.Start = settings.StartEager
	}
	level := s.LogLevel
	if os.Getenv(settings.EnvLogLevel) == "" {
		level = defaultLevel
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name:   "ica-mcp-proxy",
		Level:  hclog.LevelFromString(level),
		Output: os.Stderr,
	})
	for _, w := range warnings {
		log.Warn("setting ignored", "problem", w)
	}
	integrity := pluginhost.NewIntegrity(PluginsDir(s), filepath.Join(s.Home, pluginhost.LockFileName))
	host, err := pluginhost.New(pluginhost.Options{
		Dir:          PluginsDir(s),
		Logger:       log.Named("plugin"),
		Env:          proxy.PluginEnv(),
		Verifier:     integrity,
		StartTimeout: s.PluginStartTimeout,
		StreamOnly:   s.DataPath == settings.DataPathStream,
	})
	if err != nil {
		return nil, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	a := &app{settings: s, log: log, host: host, integrity: integrity, version: version, cwd: cwd, memo: upstreamfacts.New(s.Home), drift: drift.New(s.Home)}
	a.logins = auth.New(auth.Options{Store: tokenstore.New(s.Home), Plugins: host, Logger: log.Named("auth"), Kinds: a.memo})
	a.proxy, a.broker = a.newProxy()
	return a, nil
}

// newProxy builds a proxy core on the app's plugins, logins and state: the
// app's own, and one per client session of the HTTP front.
func (a *app) newProxy() (*proxy.Proxy, *broker.Broker) {
	return a.newProxyFor(session{Settings: a.settings, Cwd: a.cwd})
}

// driftOf is the tool hashes' store of home.
func (a *app) driftOf(home string) *drift.Store {
	if a.drift == nil || home != a.settings.Home {
		return drift.New(home)
	}
	return a.drift
}

// session is what a core is built for: its settings and folder, and in
// the hub, a front's environment (nil: the process's), the shared
// upstreams and the project's shared configuration.
type session struct {
	Settings  settings.Settings
	Cwd       string
	LookupEnv func(string) (string, bool)
	Environ   func() []string
	Share     proxy.ShareFunc
	Config    proxy.ConfigSource
	// Log is the session's logger (nil: the app's).
	Log hclog.Logger
}

// newProxyFor builds a proxy core for a session on the app's plugins and
// logins: the app's own, and in the hub, one per front.
func (a *app) newProxyFor(sess session) (*proxy.Proxy, *broker.Broker) {
	s := sess.Settings
	log := sess.Log
	if log == nil {
		log = a.log
	}
	p := proxy.New(proxy.Options{
		Settings:  s,
		Version:   a.version,
		Cwd:       sess.Cwd,
		Logger:    log.Named("proxy"),
		Opener:    a.host,
		Reserved:  broker.Names(s.Separator),
		Memo:      a.memo,
		Auth:      a.logins,
		Trust:     trust.New(s.Home),
		Drift:     a.driftOf(s.Home),
		ToolCache: toolcache.New(s.Home),
		LookupEnv: sess.LookupEnv,
		Environ:   sess.Environ,
		Share:     sess.Share,
		Config:    sess.Config,
	})
	return p, broker.New(p, s.Separator)
}

// close shuts the upstreams down, then the plugins.
func (a *app) close() {
	a.proxy.Close()
	a.host.Close()
}
