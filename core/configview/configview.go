// Package configview shares the configuration among the hub's sessions of
// one project: the config files are read once per change and watched by
// one poller for every session whose project folder and $ICA_HOME are the
// same and whose environment gives the same values to the variables the
// files name (${VAR}).
//
// A session whose environment differs on such a variable reads the files
// for itself, as a proxy of its own would: sharing never changes what a
// session sees. Each session's core still judges the configuration with
// its own trust gate (the same inputs give the same decision) and applies
// it to its own upstream views (core/share).
package configview

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/config"
)

// Registry holds the views of one hub.
type Registry struct {
	mu    sync.Mutex
	views map[key]*view
}

// New makes an empty registry.
func New() *Registry { return &Registry{views: map[key]*view{}} }

// key is what sessions of one view have in common.
type key struct {
	cwd, home  string
	preferHome bool
}

// view is one project's configuration, as last read.
type view struct {
	key key
	// users counts the Sources open on the view; the registry drops it
	// at 0, and a later session reads the files afresh.
	users int

	mu sync.Mutex
	// cfg is the configuration last read, nil once the files changed.
	cfg *config.Config
	// named are the variables cfg's files named, with the values they
	// had for the read: a session may share cfg if its own are the same.
	named map[string]lookup
	// reads counts the reads of the files made for the view.
	reads int
	// subs are the sessions told of a change, with the files besides
	// the config files each needs watched (its trust inputs).
	subs map[*Source]subscriber
	// stop ends the poller (nil when none runs); watching says it has
	// stated the files, so that a change since is seen.
	stop     context.CancelFunc
	watching bool
}

type lookup struct {
	value string
	ok    bool
}

type subscriber struct {
	changed func()
	also    func() []string
}

// Source is one session's configuration: the view of its project, or its
// own read of the files when its variables differ. It is a
// proxy.ConfigSource.
type Source struct {
	r      *Registry
	v      *view
	o      config.Options
	closed bool
}

// For is the session's source for the files o names, read with o's
// LookupEnv. Close it when the session ends.
func (r *Registry) For(o config.Options) *Source {
	k := key{cwd: o.Cwd, home: o.Home, preferHome: o.PreferHome}
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.views[k]
	if v == nil {
		v = &view{key: k, subs: map[*Source]subscriber{}}
		r.views[k] = v
	}
	v.users++
	return &Source{r: r, v: v, o: o}
}

// Close ends the session's use of its view.
func (s *Source) Close() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.v.mu.Lock()
	delete(s.v.subs, s)
	stop := s.v.stopIfUnwatched()
	s.v.mu.Unlock()
	if stop != nil {
		stop()
	}
	if s.v.users--; s.v.users == 0 {
		delete(s.r.views, s.v.key)
	}
}

// Load is the configuration as the session sees it: the view's, read
// once for every session that shares it, or the session's own read.
func (s *Source) Load() *config.Config {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	// Unwatched, the view cannot know the files did not change: read.
	if v.cfg != nil && v.watching {
		if s.sameVariables(v.named) {
			return v.cfg
		}
		return config.Load(s.o)
	}
	named := map[string]lookup{}
	o := s.o
	o.LookupEnv = func(name string) (string, bool) {
		value, ok := s.o.LookupEnv(name)
		named[name] = lookup{value, ok}
		return value, ok
	}
	v.cfg, v.named = config.Load(o), named
	v.reads++
	return v.cfg
}

// sameVariables says whether the session's environment gives named's
// values.
func (s *Source) sameVariables(named map[string]lookup) bool {
	for name, want := range named {
		if value, ok := s.o.LookupEnv(name); ok != want.ok || value != want.value {
			return false
		}
	}
	return true
}

// Watch tells changed of each change of the config files, or of the
// files also names, until ctx ends. One poller per view watches for every
// session.
func (s *Source) Watch(ctx context.Context, every time.Duration, also func() []string, changed func()) {
	v := s.v
	v.mu.Lock()
	v.subs[s] = subscriber{changed: changed, also: also}
	start := v.stop == nil
	var wctx context.Context
	if start {
		wctx, v.stop = context.WithCancel(context.Background())
	}
	v.mu.Unlock()
	if start {
		// The files are stated now (the poller needs the folders only,
		// not the session's environment), and what was read before may
		// be older than that: a read is shared only once it follows the
		// statement, so no change is missed.
		o := s.o
		o.LookupEnv = nil
		w := config.NewWatcher(o, v.watched)
		v.mu.Lock()
		if wctx.Err() == nil { // not stopped meanwhile by the last session's leaving
			v.cfg, v.watching = nil, true
		}
		v.mu.Unlock()
		go w.Run(wctx, every, v.changed)
	}
	<-ctx.Done()
	v.mu.Lock()
	delete(v.subs, s)
	stop := v.stopIfUnwatched()
	v.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// stopIfUnwatched ends the poller when no session is subscribed; v.mu
// held. It returns the poller's cancel, to call after the lock.
func (v *view) stopIfUnwatched() context.CancelFunc {
	if len(v.subs) > 0 || v.stop == nil {
		return nil
	}
	stop := v.stop
	v.stop, v.cfg, v.watching = nil, nil, false
	return stop
}

// watched is every subscriber's files besides the config files.
func (v *view) watched() []string {
	v.mu.Lock()
	subs := make([]subscriber, 0, len(v.subs))
	for _, sub := range v.subs {
		subs = append(subs, sub)
	}
	v.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, sub := range subs {
		if sub.also == nil {
			continue
		}
		for _, f := range sub.also() {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sort.Strings(out)
	return out
}

// changed drops the configuration read and tells every session, whose
// next Load reads the files once for all.
func (v *view) changed() {
	v.mu.Lock()
	v.cfg = nil
	subs := make([]func(), 0, len(v.subs))
	for _, sub := range v.subs {
		subs = append(subs, sub.changed)
	}
	v.mu.Unlock()
	for _, f := range subs {
		f()
	}
}

// ViewStatus is one view, for hub status.
type ViewStatus struct {
	Folder   string `json:"folder"`
	Home     string `json:"home"`
	Sessions int    `json:"sessions"`
	// Reads counts the times the view's files were read.
	Reads int `json:"reads"`
	// Watched says a poller watches the files for the sessions.
	Watched bool `json:"watched"`
}

// Status lists the views.
func (r *Registry) Status() []ViewStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ViewStatus, 0, len(r.views))
	for _, v := range r.views {
		v.mu.Lock()
		out = append(out, ViewStatus{Folder: v.key.cwd, Home: v.key.home, Sessions: v.users, Reads: v.reads, Watched: v.watching})
		v.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Folder < out[j].Folder })
	return out
}
