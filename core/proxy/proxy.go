package proxy

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/auth"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/toolcache"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/trust"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// closeGrace is how long an upstream may take to exit on its own when its
// session is closed, before it is signalled.
const closeGrace = 3 * time.Second

// Options configure a Proxy.
type Options struct {
	Settings settings.Settings
	// Version is the proxy's, told to upstreams with its name.
	Version string
	// Cwd is the project directory (where .mcp.json is read).
	Cwd    string
	Logger hclog.Logger
	// Opener starts transport plugins.
	Opener upstream.Opener
	// LookupEnv and Environ give the proxy's environment; os's by default.
	LookupEnv func(string) (string, bool)
	Environ   func() []string
	// Reserved are names the mirror must not use (the broker tools).
	Reserved []string
	// Memo remembers which transport a url-only server speaks and what
	// each server offers; nil remembers nothing.
	Memo Memo
	// Auth runs logins and gives remote sessions their tokens; nil: no
	// logins.
	Auth *auth.Manager
	// Trust holds the trusted project files, for the trust gate.
	Trust *trust.Store
	// Drift remembers each tool's approved form; nil notices nothing.
	Drift *drift.Store
	// ToolCache keeps each server's last tool list between runs, so that
	// tools/list is answered before the servers start; nil keeps none.
	ToolCache *toolcache.Cache
	// Share, when set, gives the servers' upstreams (the hub's, shared
	// with other sessions); nil: each server has an upstream of its own.
	Share ShareFunc
	// Config, when set, is where the configuration comes from (the hub's
	// view of the project, read once for its sessions); nil: the files,
	// read and watched for this core alone.
	Config ConfigSource
}

// ConfigSource gives a core its configuration: Load reads it as it is
// now; Watch calls changed on each change of the config files or of the
// files also names, until ctx ends.
type ConfigSource interface {
	Load() *config.Config
	Watch(ctx context.Context, every time.Duration, also func() []string, changed func())
}

// ownFiles is the ConfigSource of a core alone: the files themselves.
type ownFiles struct{ o config.Options }

func (f ownFiles) Load() *config.Config { return config.Load(f.o) }

func (f ownFiles) Watch(ctx context.Context, every time.Duration, also func() []string, changed func()) {
	config.Watch(ctx, f.o, every, also, changed)
}

// Hooks are how the proxy tells its frontend what happened.
type Hooks struct {
	// ToolsChanged is called when the exposed tool list changed.
	ToolsChanged func()
	// ListChanged is called when a server's resources
	// (upstream.KindResources) or prompts (upstream.KindPrompts) changed.
	ListChanged func(server string, kind upstream.Kind)
	// Notification receives every notification an upstream sends.
	Notification func(server, method string, params, msg json.RawMessage)
	// Request receives the upstreams' own requests, to relay to the
	// client; see upstream.RequestFunc.
	Request upstream.RequestFunc
}

// Proxy is the core. It is safe for concurrent use.
type Proxy struct {
	opts  Options
	log   hclog.Logger
	hooks atomic.Pointer[Hooks]
	// unwatchAuth stops the login manager telling this core of new
	// credentials (it outlives the core in a hub).
	unwatchAuth func()

	mu  sync.RWMutex
	cfg *config.Config
	// blocked are the servers the trust gate holds back, and why.
	blocked map[string]string
	// gateResult is what the trust gate decided of the current configuration.
	gateResult gated
	// screened is what the screen found in each server's last tool list
	// (see screen.go).
	screened map[string]screening
	// catalogFindings are the poisoning checks' findings on the prompts
	// and resources last listed, per server and kind.
	catalogFindings sync.Map // [2]string{server, kind} → []Finding
	ups             map[string]Server
	lists           map[string][]json.RawMessage // last tool list of each server
	// cached are the servers whose list in lists is the tool cache's:
	// they have not been listed in this run.
	cached map[string]bool
	// listing holds, per server, a channel closed when its current
	// listing round ends.
	listing map[string]chan struct{}

	table atomic.Pointer[mirror.Table]
	// search is the index of proxy.search_tools, rebuilt on demand.
	search searchIndex
	// initial is closed once every server of the first round has been
	// listed or has failed.
	initial chan struct{}
	// listDeadline is when the first round started plus the list wait
	// (unix nanoseconds; 0 until then): how long any list waits for that
	// round.
	listDeadline atomic.Int64

	rebuildMu sync.Mutex

	startOnce  sync.Once
	clientCaps atomic.Pointer[mcp.ClientCapabilities]
	// clientRevision is how the client speaks (upstream.RevisionStateless
	// or RevisionInitialize), tried first with each upstream.
	clientRevision atomic.Pointer[string]
	// level is the log level the client set (logging/setLevel).
	level atomic.Pointer[string]
	// catalogs holds the last catalog built of each kind, for routing.
	catalogs sync.Map // mirror.CatalogKind → *mirror.Catalog

	// background counts the listings started on their own goroutines
	// (a list change, a wake, a stale cache), which Close ends and waits
	// for: none writes the tool cache or the drift record after Close.
	// life is their context, cancelled by Close.
	background sync.WaitGroup
	bgMu       sync.Mutex
	closed     bool
	life       context.Context
	stop       context.CancelFunc
}

// New loads the configuration and prepares the upstreams; it starts
// nothing. Call Start to list tools in the background.
func New(opts Options) *Proxy {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ
	}
	p := &Proxy{
		opts:    opts,
		log:     opts.Logger,
		ups:     make(map[string]Server),
		lists:   make(map[string][]json.RawMessage),
		cached:  make(map[string]bool),
		listing: make(map[string]chan struct{}),
		initial: make(chan struct{}),
	}
	p.life, p.stop = context.WithCancel(context.Background())
	p.hooks.Store(&Hooks{})
	if opts.Auth != nil {
		p.unwatchAuth = opts.Auth.OnChange(p.onCredentialsChanged)
	}
	p.table.Store(mirror.Build(nil, p.limits(), opts.Settings.Separator, opts.Reserved))
	p.warm(p.apply(p.loadConfig()))
	return p
}

// SetHooks installs the frontend's hooks.
func (p *Proxy) SetHooks(h Hooks) { p.hooks.Store(&h) }

// mirrorable returns the servers whose tools are mirrored: the usable ones,
// sorted, within the server cap; and the cap's reason if it cut any.
//
// The home servers come first, then the project's, each in name order:
// names are given first come, first served (tools, prompts, resource
// URIs), so a home server keeps every name a project's entry would also
// take, and the server cap cuts project servers first.
func (p *Proxy) mirrorable() ([]string, *mirror.Reason) {
	p.mu.RLock()
	names := make([]string, 0, len(p.ups))
	home := make(map[string]bool, len(p.ups))
	for name := range p.ups {
		names = append(names, name)
		if s := p.cfg.Server(name); s != nil && s.Source == config.SourceHome {
			home[name] = true
		}
	}
	p.mu.RUnlock()
	sort.Slice(names, func(i, j int) bool {
		if home[names[i]] != home[names[j]] {
			return home[names[i]]
		}
		return names[i] < names[j]
	})
	return mirror.ServerCap(names, p.limits())
}

// Close shuts every upstream down, concurrently.
func (p *Proxy) Close() {
	if p.unwatchAuth != nil {
		p.unwatchAuth()
	}
	p.bgMu.Lock()
	p.closed = true
	p.bgMu.Unlock()
	p.stop()
	var wg sync.WaitGroup
	for _, u := range p.allUpstreams() {
		wg.Go(u.Close)
	}
	wg.Wait()
	p.background.Wait()
	if c := p.opts.ToolCache; c != nil {
		if err := c.Flush(); err != nil {
			p.log.Debug("could not write the tool cache", "error", err)
		}
	}
}

// inBackground runs f on a goroutine of its own, with a context that
// Close cancels before it waits for f; once Close has begun, f does not
// run.
func (p *Proxy) inBackground(f func(ctx context.Context)) {
	p.bgMu.Lock()
	defer p.bgMu.Unlock()
	if p.closed {
		return
	}
	p.background.Go(func() { f(p.life) })
}
