package sdk

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/memtrim"
)

// Environment variables the host sets for its plugins.
const (
	// EnvLogLevel is the log level plugins use (trace, debug, info, warn,
	// error); the host passes its own.
	EnvLogLevel = "ICA_LOG_LEVEL"
	// EnvParentFD names an inherited file descriptor whose other end the
	// host holds open for as long as it lives. When a read on it returns,
	// the host is gone, however it died, and the plugin shuts down.
	EnvParentFD = "ICA_PLUGIN_PARENT_FD"
)

// shutdownGrace is how long each session may take to stop when the plugin
// shuts down because its host is gone. It keeps the whole shutdown, stdin
// close, SIGTERM and SIGKILL included, well within five seconds.
const shutdownGrace = 1500 * time.Millisecond

// ServeOption changes how a plugin is served.
type ServeOption func(*serveConfig)

type serveConfig struct {
	logger hclog.Logger
}

// WithLogger replaces the plugin's logger. By default a plugin logs hclog
// JSON on stderr, which the host re-emits under the plugin's name.
func WithLogger(l hclog.Logger) ServeOption {
	return func(c *serveConfig) { c.logger = l }
}

// ServeTransport serves a transport plugin and returns when the host is
// done with it. It is meant to be the whole of a plugin's main.
func ServeTransport(impl Transport, opts ...ServeOption) {
	cfg := serveConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = defaultPluginLogger()
	}
	sessions := newSessionSet()
	go memtrim.Run(context.Background())
	shutdown := func(why string) {
		cfg.logger.Debug("shutting down", "reason", why)
		sessions.closeAll(shutdownGrace)
		os.Exit(0)
	}
	watchHost(cfg.logger, shutdown)

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         transportPluginSet(impl, cfg.logger, sessions, fdChannelFromEnv()),
		TLSProvider:     serverTLS,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
				grpc.InitialWindowSize(windowBytes), grpc.InitialConnWindowSize(windowBytes))
			return grpc.NewServer(opts...)
		},
		Logger: cfg.logger,
	})
	// The host asked the plugin to stop (go-plugin's Kill): end what is
	// still running before returning.
	sessions.closeAll(shutdownGrace)
}

// ServeAuth serves an auth plugin and returns when the host is done with
// it. It is meant to be the whole of a plugin's main. Flows under way end
// with the plugin: the host starts them again if it still wants them.
func ServeAuth(impl Auth, opts ...ServeOption) {
	cfg := serveConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = defaultPluginLogger()
	}
	watchHost(cfg.logger, func(why string) {
		cfg.logger.Debug("shutting down", "reason", why)
		os.Exit(0)
	})
	go memtrim.Run(context.Background())
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         AuthPlugins(impl, cfg.logger),
		TLSProvider:     serverTLS,
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          cfg.logger,
	})
}

// AuthPlugins is the go-plugin PluginSet that serves impl, with the kind
// and API version the sdk fills in. It exists for package sdktest; plugin
// authors call ServeAuth.
func AuthPlugins(impl Auth, logger hclog.Logger) plugin.PluginSet {
	info := impl.Info()
	info.Kind = KindAuth
	info.APIVersion, info.APIVersions = APIVersion, APIVersions()
	return plugin.PluginSet{
		pluginNameInfo: &infoPlugin{info: info},
		pluginNameAuth: &authPlugin{impl: impl, logger: logger},
	}
}

// TransportPlugins is the go-plugin PluginSet that serves impl. It exists
// for package sdktest; plugin authors call ServeTransport.
func TransportPlugins(impl Transport, logger hclog.Logger) plugin.PluginSet {
	return transportPluginSet(impl, logger, newSessionSet(), nil)
}

// TransportPluginsOver is TransportPlugins with the plugin's end of a
// descriptor channel (NewFDChannel), for serving a transport in the host's
// own process with its messages off the gRPC stream, as package sdktest
// does.
func TransportPluginsOver(impl Transport, logger hclog.Logger, ch *FDChannel) plugin.PluginSet {
	return transportPluginSet(impl, logger, newSessionSet(), ch)
}

// transportPluginSet serves impl's Info, with the kind and API version the
// sdk fills in, and its sessions.
func transportPluginSet(impl Transport, logger hclog.Logger, sessions *sessionSet, ch *FDChannel) plugin.PluginSet {
	info := impl.Info()
	info.Kind = KindTransport
	info.APIVersion, info.APIVersions = APIVersion, APIVersions()
	return plugin.PluginSet{
		pluginNameInfo:      &infoPlugin{info: info},
		pluginNameTransport: &transportPlugin{impl: impl, logger: logger, sessions: sessions, channel: ch},
	}
}

func defaultPluginLogger() hclog.Logger {
	level := hclog.LevelFromString(os.Getenv(EnvLogLevel))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Level:      level,
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// watchHost arranges for shutdown to run when the host disappears: when the
// parent pipe reaches end of file (the host died, even by SIGKILL), or on
// SIGTERM. Without it, upstream processes would outlive a killed host.
func watchHost(logger hclog.Logger, shutdown func(why string)) {
	ignoreBrokenPipes()
	watchParentPipe(logger, shutdown)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		<-sigs
		shutdown("SIGTERM")
	}()
}

// HostDialOptions are the gRPC options a host uses to reach a plugin.
func HostDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithInitialWindowSize(windowBytes),
		grpc.WithInitialConnWindowSize(windowBytes),
	}
}
