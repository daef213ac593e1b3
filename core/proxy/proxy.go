package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/auth"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/drift"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/mirror"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/toolcache"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/trust"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// closeGrace is how long an upstream may take to exit on its own when its
// session is closed, before it is signalled.
const closeGrace = 3 * time.Second

// retryFailedAfter is how long tools/list leaves a failed server alone
// before trying to list it again.
const retryFailedAfter = 30 * time.Second

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
	ups             map[string]*upstream.Upstream
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
	// level is the log level the client set (logging/setLevel).
	level atomic.Pointer[string]
	// catalogs holds the last catalog built of each kind, for routing.
	catalogs sync.Map // mirror.CatalogKind → *mirror.Catalog
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
		ups:     make(map[string]*upstream.Upstream),
		lists:   make(map[string][]json.RawMessage),
		cached:  make(map[string]bool),
		listing: make(map[string]chan struct{}),
		initial: make(chan struct{}),
	}
	p.hooks.Store(&Hooks{})
	if opts.Auth != nil {
		opts.Auth.OnChange(p.onCredentialsChanged)
	}
	p.table.Store(mirror.Build(nil, p.limits(), opts.Settings.Separator, opts.Reserved))
	p.warm(p.apply(p.loadConfig()))
	return p
}

// warm fills the tool lists of the named servers, which have not been
// listed yet, from the tool cache: tools/list can then be answered at
// once, and the real lists, when the servers answer, replace them (with
// tools/list_changed if they differ).
func (p *Proxy) warm(names []string) {
	c := p.opts.ToolCache
	if c == nil {
		return
	}
	p.rebuildMu.Lock()
	defer p.rebuildMu.Unlock()
	warmed := false
	for _, name := range names {
		p.mu.RLock()
		s, u := p.cfg.Server(name), p.ups[name]
		_, listed := p.lists[name]
		p.mu.RUnlock()
		if s == nil || u == nil || listed {
			continue
		}
		tools, ok := c.Get(name, s.Fingerprint)
		if !ok {
			continue
		}
		tools, sc := p.screen(name, tools)
		if p.keepList(name, u, tools, sc, true) {
			warmed = true
		}
	}
	if warmed {
		p.rebuildLocked()
	}
}

// SetHooks installs the frontend's hooks.
func (p *Proxy) SetHooks(h Hooks) { p.hooks.Store(&h) }

func (p *Proxy) limits() mirror.Limits {
	s := p.opts.Settings
	return mirror.Limits{
		MaxServers:        s.MaxServers,
		MaxToolsPerServer: s.MaxToolsPerServer,
		MaxTotalTools:     s.MaxTotalTools,
		MaxSchemaBytes:    s.MaxSchemaBytes,
		MaxNameLen:        s.ToolNameMax,
		SchemaCompat:      s.SchemaCompat,
	}
}

func (p *Proxy) configOptions() config.Options {
	return config.Options{
		Cwd:        p.opts.Cwd,
		Home:       p.opts.Settings.Home,
		PreferHome: p.opts.Settings.PreferHome,
		LookupEnv:  p.opts.LookupEnv,
	}
}

func (p *Proxy) loadConfig() *config.Config {
	cfg := config.Load(p.configOptions())
	for _, src := range cfg.Sources {
		if src.Error != "" {
			p.log.Error("config file not loaded", "error", src.Error)
		}
	}
	for _, s := range cfg.Servers {
		if s.Error != "" {
			p.log.Error("server entry not usable", "server", s.Name, "file", s.File, "error", s.Error)
		}
		for _, w := range s.Warnings {
			p.log.Warn("server entry", "server", s.Name, "file", s.File, "warning", w)
		}
	}
	return cfg
}

// apply makes cfg current: upstreams of removed or changed servers are
// closed, new ones prepared. It returns the servers to list again.
func (p *Proxy) apply(cfg *config.Config) []string {
	cfg, g := p.gate(cfg)
	blocked := g.blocked
	p.mu.Lock()
	old := p.cfg
	// A home server without cwd runs in the project folder only while it
	// is trusted: when that changes, it starts again in the other.
	moved := old != nil && p.gateResult.projectTrusted != g.projectTrusted
	p.cfg = cfg
	p.blocked = blocked
	p.gateResult = g
	var toClose []*upstream.Upstream
	var changed []string
	for name, u := range p.ups {
		s := cfg.Server(name)
		if s == nil || s.Error != "" || blocked[name] != "" || old == nil || old.Server(name) == nil || old.Server(name).Fingerprint != s.Fingerprint ||
			moved && s.Source == config.SourceHome && s.Type == config.TypeStdio && s.Cwd == "" {
			toClose = append(toClose, u)
			delete(p.ups, name)
			delete(p.lists, name)
			delete(p.cached, name)
		}
	}
	for _, s := range cfg.Servers {
		if s.Error != "" || blocked[s.Name] != "" {
			delete(p.lists, s.Name)
			delete(p.cached, s.Name)
			continue
		}
		if _, ok := p.ups[s.Name]; ok {
			continue
		}
		p.ups[s.Name] = upstream.New(s.Name, p.spec(s), p.opts.Opener, p.log, upstream.Hooks{
			Notification: p.onNotification,
			ListChanged:  p.onUpstreamListChanged,
			Request:      p.onUpstreamRequest,
			Capabilities: p.clientCapabilities,
			LogLevel:     p.logLevel,
			Connected:    p.onConnected,
			Credentials:  p.credentials,
			Took:         p.took,
		})
		changed = append(changed, s.Name)
	}
	p.mu.Unlock()
	for _, u := range toClose {
		go u.Close()
	}
	return changed
}

func (p *Proxy) spec(s *config.Server) upstream.Spec {
	st := p.opts.Settings
	timeout := st.RequestTimeout
	if s.Timeout > 0 {
		timeout = s.Timeout
	}
	sess := sdk.SessionSpec{
		Server:        s.Name,
		Transport:     s.Type,
		Command:       s.Command,
		Args:          s.Args,
		Cwd:           s.Cwd,
		URL:           s.URL,
		Headers:       remoteHeaders(s),
		TimeoutMillis: timeout.Milliseconds(),
	}
	sess.Options = s.Options
	if s.AllowHTTP {
		opts := s.Options
		if len(opts) == 0 {
			opts = []byte("{}")
		}
		sess.Options, _ = sjson.SetBytes(opts, "allow_http", true)
	}
	var fallback string
	if s.Probe {
		fallback = config.TypeSSE
	}
	if s.Type == config.TypeStdio {
		sess.Env = upstreamEnv(p.opts.Environ(), st.InheritEnv || s.InheritEnv, s.Env)
		if sess.Cwd == "" {
			// A home server runs in the project folder only once that
			// folder is trusted (strict mode): there, `python -m x`
			// would import the repository's x.py and npx would follow its
			// .npmrc. Until then it runs beside its config file.
			sess.Cwd = p.opts.Cwd
			if s.Source == config.SourceHome && !p.gateResult.projectTrusted {
				sess.Cwd = filepath.Dir(s.File)
			}
		}
	}
	return upstream.Spec{
		Transport:      s.Type,
		Session:        sess,
		RequestTimeout: timeout,
		Pooled:         st.Pooled(),
		IdleTTL:        st.IdleTTL,
		ToolCacheTTL:   st.ToolCacheTTL,
		CloseGrace:     closeGrace,
		Fallback:       fallback,
		Memo:           p.transportMemo(),
		Revisions:      p.revisionMemo(),
		RevisionKey:    entryKey(s),
		Redact:         s.Redact,
		ClientInfo:     p.clientInfo(),
	}
}

// clientInfo is what the upstreams are told of the proxy.
func (p *Proxy) clientInfo() mcp.Implementation {
	info := upstream.DefaultClientInfo
	if p.opts.Version != "" {
		info.Version = p.opts.Version
	}
	return info
}

// revisionMemo is transportMemo for what each server speaks.
func (p *Proxy) revisionMemo() upstream.RevisionMemo {
	if p.opts.Memo == nil {
		return nil
	}
	return p.opts.Memo
}

// transportMemo is the memo as the upstreams take it: a nil interface,
// not a nil pointer in one, when there is none.
func (p *Proxy) transportMemo() upstream.TransportMemo {
	if p.opts.Memo == nil {
		return nil
	}
	return p.opts.Memo
}

// remoteHeaders are the headers sent to a remote server: the configured
// ones, and the api_key as a bearer token unless Authorization is set.
func remoteHeaders(s *config.Server) map[string]string {
	if s.APIKey == "" {
		return s.Headers
	}
	h := make(map[string]string, len(s.Headers)+1)
	for k, v := range s.Headers {
		if strings.EqualFold(k, "Authorization") {
			return s.Headers
		}
		h[k] = v
	}
	h["Authorization"] = "Bearer " + s.APIKey
	return h
}

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

// isHome says whether server is the user's own (from $ICA_HOME).
func (p *Proxy) isHome(server string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	s := p.cfg.Server(server)
	return s != nil && s.Source == config.SourceHome
}

// Start lists the tools of every mirrored server in the background, each
// on its own, except the dormant ones (see lazy.go), and watches the
// config files until ctx ends. Only the first call does anything.
func (p *Proxy) Start(ctx context.Context, watchEvery time.Duration) {
	p.startOnce.Do(func() { p.start(ctx, watchEvery) })
}

func (p *Proxy) start(ctx context.Context, watchEvery time.Duration) {
	p.firstListDeadline()
	names, _ := p.mirrorable()
	done := p.listAll(ctx, p.needed(names))
	go func() {
		<-done
		close(p.initial)
	}()
	if watchEvery > 0 {
		go config.Watch(ctx, p.configOptions(), watchEvery, p.trustInputs, func() { p.Reload(ctx) })
	}
}

// listAll lists the servers concurrently; the returned channel closes when
// all are done. Each finished listing rebuilds the table at once, so a slow
// server never holds the others back.
func (p *Proxy) listAll(ctx context.Context, names []string) <-chan struct{} {
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() { p.list(ctx, name) })
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// list lists one server's tools (sharing a round already under way) and
// rebuilds the table.
func (p *Proxy) list(ctx context.Context, name string) {
	p.mu.Lock()
	if ch, ok := p.listing[name]; ok {
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return
	}
	u := p.ups[name]
	ch := make(chan struct{})
	p.listing[name] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.listing, name)
		p.mu.Unlock()
		close(ch)
	}()
	if u == nil {
		return
	}
	tools, err := u.Tools(ctx)
	if err != nil {
		p.log.Debug("could not list tools", "server", name, "error", err)
		return
	}
	p.log.Debug("listed tools", "server", name, "tools", len(tools))
	if c, s := p.opts.ToolCache, p.entry(name); c != nil && s != nil {
		c.Put(name, s.Fingerprint, tools)
	}
	tools, sc := p.screen(name, tools)
	p.rebuildMu.Lock()
	defer p.rebuildMu.Unlock()
	p.keepList(name, u, tools, sc, false)
	p.rebuildLocked()
}

// rebuild recomputes the mirror table and tells the frontend if the
// exposed tools changed.
func (p *Proxy) rebuild() {
	p.rebuildMu.Lock()
	defer p.rebuildMu.Unlock()
	p.rebuildLocked()
}

// rebuildLocked is rebuild with rebuildMu held. Whoever changes p.lists
// holds rebuildMu from the change to the rebuild, so that allListed never
// sees a list the table does not have yet.
func (p *Proxy) rebuildLocked() {
	in, filtered := p.mirrorInputs()
	p.search.invalidate()
	t := mirror.Build(in, p.limits(), p.opts.Settings.Separator, p.opts.Reserved)
	t.Reasons = append(filtered, t.Reasons...)
	if p.opts.Settings.MirrorNone {
		t.Reasons = append(t.Reasons, mirror.Reason{Cap: "mirror", Detail: "ICA_MCP_PROXY_MIRROR=none: only proxy.* tools are exposed; find tools with proxy.search_tools and call them with proxy.call"})
	}
	old := p.table.Swap(t)
	if !mirror.Same(old, t) {
		if h := p.hooks.Load().ToolsChanged; h != nil {
			h()
		}
	}
}

// mirrorInputs are the servers' tools the mirror is built from, after
// each server's include/exclude filter, and what the filters left out.
func (p *Proxy) mirrorInputs() ([]mirror.ServerTools, []mirror.Reason) {
	names, _ := p.mirrorable()
	var filtered []mirror.Reason
	p.mu.RLock()
	in := make([]mirror.ServerTools, 0, len(names))
	for _, name := range names {
		tools, ok := p.lists[name]
		if !ok || p.opts.Settings.MirrorNone {
			continue
		}
		var prefix *string
		home := false
		if s := p.cfg.Server(name); s != nil {
			home = s.Source == config.SourceHome
			f := mirror.Filter{Include: s.IncludeTools, Exclude: s.ExcludeTools}
			var dropped int
			if tools, dropped = f.Apply(tools); dropped > 0 {
				filtered = append(filtered, mirror.Reason{Server: name, Cap: "filter", Limit: dropped,
					Detail: fmt.Sprintf("%d tool(s) left out by include_tools/exclude_tools", dropped)})
			}
			prefix = s.ToolPrefix
		}
		in = append(in, mirror.ServerTools{Server: name, Tools: tools, Prefix: prefix, Home: home})
	}
	p.mu.RUnlock()
	return in, filtered
}

// NamesUnder is the tool names the mirror would expose, now, to a proxy
// run with another separator and name budget (a runtime's registered
// entry sets both); reserved are that proxy's broker names.
func (p *Proxy) NamesUnder(sep string, maxLen int, reserved []string) []string {
	in, _ := p.mirrorInputs()
	lim := p.limits()
	lim.MaxNameLen = maxLen
	t := mirror.Build(in, lim, sep, reserved)
	out := make([]string, 0, len(t.Tools)+len(reserved))
	out = append(out, reserved...)
	for _, tool := range t.Tools {
		out = append(out, tool.Exposed)
	}
	return out
}

// Table returns the current mirror table.
func (p *Proxy) Table() *mirror.Table { return p.table.Load() }

// Lookup finds an exposed tool. A name not (yet) in the table waits, at
// most the list wait, for the first listing round: a client may call a tool
// it remembers from an earlier session before the upstreams have started.
func (p *Proxy) Lookup(ctx context.Context, name string) (mirror.Tool, bool) {
	if tool, ok := p.Table().Lookup(name); ok {
		return tool, true
	}
	p.WaitListed(ctx)
	return p.Table().Lookup(name)
}

// ToolsForList is what tools/list serves: it waits (at most the configured
// list wait) for the first listing round, refreshes stale lists in the
// background, and returns the table.
func (p *Proxy) ToolsForList(ctx context.Context) *mirror.Table {
	select {
	case <-p.initial:
	default:
		if p.allListed() {
			// From the tool cache: the servers are still starting, and
			// their real lists will follow (tools/list_changed).
			p.log.Debug("tools/list answered before the first listing ended: every server has a list")
			return p.Table()
		}
	}
	p.WaitListed(ctx)
	select {
	case <-p.initial:
		p.refreshStale(context.WithoutCancel(ctx))
	default:
		p.log.Debug("tools/list answered before the first listing ended", "context", ctx.Err())
	}
	return p.Table()
}

// Listed says whether the first listing round has ended: every server
// answered or failed, so the lists are the servers' own, not the tool
// cache's.
func (p *Proxy) Listed() bool {
	select {
	case <-p.initial:
		return true
	default:
		return false
	}
}

// RequestTimeout bounds one request to an upstream.
func (p *Proxy) RequestTimeout() time.Duration { return p.opts.Settings.RequestTimeout }

// firstListDeadline is the deadline of the waits for the first listing
// round: the list wait from its start (or from the first wait, if one
// comes before).
func (p *Proxy) firstListDeadline() time.Time {
	p.listDeadline.CompareAndSwap(0, time.Now().Add(p.opts.Settings.ListWait).UnixNano())
	return time.Unix(0, p.listDeadline.Load())
}

// ListWait is how long the first tools/list may wait for servers still
// starting (ICA_MCP_PROXY_LIST_WAIT_S).
func (p *Proxy) ListWait() time.Duration { return p.opts.Settings.ListWait }

// ToolCacheTTL is how long an upstream's tool list is reused before the
// proxy lists it again.
func (p *Proxy) ToolCacheTTL() time.Duration { return p.opts.Settings.ToolCacheTTL }

// WaitListed waits for the first listing round to end, at most until the
// list wait has passed since the round started: what the CLI's commands
// report is the servers' state now, not the tool cache's. A runtime waits
// only so long after it started the proxy for all of its first lists
// (register sets a short list wait for those that wait least), so the
// capabilities and the first lists of tools, resources and prompts share
// one deadline rather than each waiting the list wait in turn.
func (p *Proxy) WaitListed(ctx context.Context) {
	wait := time.Until(p.firstListDeadline())
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-p.initial:
	case <-t.C:
	case <-ctx.Done():
	}
}

// allListed says whether every mirrored server has a tool list, listed or
// from the cache.
func (p *Proxy) allListed() bool {
	p.rebuildMu.Lock() // no list changes between its table and now
	defer p.rebuildMu.Unlock()
	names, _ := p.mirrorable()
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, n := range names {
		if _, ok := p.lists[n]; !ok {
			return false
		}
	}
	return len(names) > 0
}

// refreshStale re-lists servers whose cached list expired or was
// invalidated, without waiting.
func (p *Proxy) refreshStale(ctx context.Context) {
	names, _ := p.mirrorable()
	for _, name := range names {
		u := p.upstream(name)
		if u == nil {
			continue
		}
		if _, fresh := u.FreshTools(); fresh || p.dormant(name) {
			continue
		}
		// A server that failed is tried again, but not at every list.
		if st := u.State(); (st.Status == upstream.StatusError || st.Status == upstream.StatusLoginRequired) && time.Since(st.Since) < retryFailedAfter {
			continue
		}
		go p.list(ctx, name)
	}
}

func (p *Proxy) onUpstreamListChanged(server string, kind upstream.Kind) {
	if kind == upstream.KindTools {
		go p.list(context.Background(), server)
		return
	}
	p.listChanged(server, kind)
}

// listChanged tells the frontend that a server's resources or prompts
// changed; templates change with resources, under one notification.
func (p *Proxy) listChanged(server string, kind upstream.Kind) {
	if kind == upstream.KindResourceTemplates {
		return
	}
	if h := p.hooks.Load().ListChanged; h != nil {
		h(server, kind)
	}
}

func (p *Proxy) onNotification(server, method string, params, msg json.RawMessage) {
	if h := p.hooks.Load().Notification; h != nil {
		h(server, method, params, msg)
	}
}

// Reload re-reads the config files and applies the difference.
func (p *Proxy) Reload(ctx context.Context) {
	p.log.Info("configuration changed; reloading")
	changed := p.apply(p.loadConfig())
	p.warm(changed)
	names, _ := p.mirrorable()
	p.rebuild() // drops removed servers at once
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var relist []string
	for _, n := range changed {
		if want[n] {
			relist = append(relist, n)
		}
	}
	p.listAll(ctx, p.needed(relist))
}

// allUpstreams returns every configured upstream, for work done on all.
func (p *Proxy) allUpstreams() []*upstream.Upstream {
	p.mu.RLock()
	defer p.mu.RUnlock()
	all := make([]*upstream.Upstream, 0, len(p.ups))
	for _, u := range p.ups {
		all = append(all, u)
	}
	return all
}

func (p *Proxy) upstream(name string) *upstream.Upstream {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.ups[name]
}

// ErrUnknownServer is returned for a server name that is not configured.
var ErrUnknownServer = errors.New("unknown server")

// Upstream returns the server's upstream, or an error saying why there is
// none: not configured, or a broken entry.
func (p *Proxy) Upstream(name string) (*upstream.Upstream, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if u, ok := p.ups[name]; ok {
		return u, nil
	}
	if s := p.cfg.Server(name); s != nil && s.Error != "" {
		return nil, fmt.Errorf("server %q is not usable: %s (%s)", name, s.Error, s.File)
	}
	if why := p.blocked[name]; why != "" {
		return nil, fmt.Errorf("server %q is %s", name, why)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownServer, name)
}

// CallTool calls tool on server with the raw tools/call params (whose name
// must already be the upstream's).
func (p *Proxy) CallTool(ctx context.Context, server string, params json.RawMessage) (upstream.Reply, error) {
	return p.Request(ctx, server, "tools/call", params)
}

// Request sends any request to a server and waits for its answer.
func (p *Proxy) Request(ctx context.Context, server, method string, params json.RawMessage) (upstream.Reply, error) {
	u, err := p.Upstream(server)
	if err != nil {
		return upstream.Reply{}, err
	}
	r, err := u.Request(ctx, method, params)
	if ar, ok := insufficientScope(err); ok {
		return p.stepUp(server, method, params, ar)
	}
	return r, err
}

// StartRequest sends any request to a server, asynchronously: done is
// called exactly once; cancel abandons it with err.
func (p *Proxy) StartRequest(server, method string, params json.RawMessage, done func(upstream.Reply, error)) (cancel func(error)) {
	return p.StartRequestIn(nil, server, method, params, done)
}

// StartRequestIn is StartRequest with the request held in batch (if not
// nil) until the batch is flushed (upstream.Batch).
func (p *Proxy) StartRequestIn(batch *upstream.Batch, server, method string, params json.RawMessage, done func(upstream.Reply, error)) (cancel func(error)) {
	u, err := p.Upstream(server)
	if err != nil {
		done(upstream.Reply{}, err)
		return func(error) {}
	}
	if p.opts.Auth == nil || !u.Remote() {
		return u.StartIn(batch, method, params, done)
	}
	return u.StartIn(batch, method, params, func(r upstream.Reply, err error) {
		if ar, ok := insufficientScope(err); ok {
			// Off the session's read loop: starting a login fetches
			// metadata.
			go func() { done(p.stepUp(server, method, params, ar)) }()
			return
		}
		done(r, err)
	})
}

// Close shuts every upstream down, concurrently.
func (p *Proxy) Close() {
	var wg sync.WaitGroup
	for _, u := range p.allUpstreams() {
		wg.Go(u.Close)
	}
	wg.Wait()
	if c := p.opts.ToolCache; c != nil {
		if err := c.Flush(); err != nil {
			p.log.Debug("could not write the tool cache", "error", err)
		}
	}
}
