// Package share lets the proxy cores of one hub, one per session, share
// their upstreams. Sessions that run the same entry the same way (its
// fingerprint, resolved folder and environment) and whose clients speak
// alike (revision and capabilities) use one set of instances of it, not
// one each.
//
// Nothing crosses sessions:
//   - A stateless (2026-07-28) upstream is one instance that every
//     session's calls share: its questions come back inside each call's
//     own answer. Progress tokens are made unique per call on the way in
//     and given back on the way out (and routed a while after the
//     answer: progress may trail it). A resource that sessions watch is
//     watched once, with one subscriptions/listen request of the hub's,
//     and its updates go to each watcher once (listen.go).
//     A request of its own names no session and is refused.
//   - A legacy upstream may send requests of its own (elicitation,
//     sampling, roots/list) that name no call. Its instances are leased
//     (core/lease): one session at a time has calls on an instance, and
//     what the instance asks goes to that session only. An instance that
//     passes to another session is told its roots changed, and the call
//     waits (a while) for it to ask the new session. A call abandoned
//     (cancelled, timed out) or running on as a task may still ask: its
//     instance stays with its session until the session ends (pin).
//   - A task is its creator's: only it lists, reaches or hears of it. A
//     resource's update goes to the sessions subscribed to it (counted
//     once the server took the subscription). List changes go to every
//     session; log messages and other notifications of a leased instance
//     to the session holding it (or that held it last), of a shared one
//     to every session, each at the log level it set.
package share

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/lease"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/proxy"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// DefaultMaxInstances is how many instances of a legacy entry the
// sessions of a hub may lease at once when nothing else is set.
const DefaultMaxInstances = 4

// Registry holds the hub's shared upstreams. It is safe for concurrent
// use.
type Registry struct {
	opener upstream.Opener
	log    hclog.Logger
	// max is the most instances of a legacy entry; linger, how long an
	// entry no session uses stays open (warm for the next session).
	max    int
	linger time.Duration

	mu      sync.Mutex
	entries map[string]*entry
	closed  bool
}

// New returns an empty registry whose upstreams open through opener.
func New(opener upstream.Opener, log hclog.Logger, maxInstances int, linger time.Duration) *Registry {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Registry{opener: opener, log: log, max: max(maxInstances, 1), linger: linger, entries: map[string]*entry{}}
}

// For returns what one session's core gives proxy.Options.Share: its
// servers' upstreams, shared with the registry's other sessions. session
// names it, uniquely (in hub status, as an instance's holder); log, when
// set, is the session's own log (its front's stderr), which is given what
// the upstreams it uses log.
func (r *Registry) For(session string, log hclog.Logger) proxy.ShareFunc {
	c := lease.Client(session)
	return func(se proxy.SharedEntry, spec upstream.Spec, hooks upstream.Hooks) proxy.Server {
		if !spec.Pooled {
			// Each operation opens a session of its own: nothing to share.
			return upstream.New(se.Name, spec, r.opener, fanOut(r.log.Name(), r.log, log), hooks)
		}
		most := se.MaxInstances
		if most <= 0 {
			most = r.max
		}
		return &View{r: r, client: c, name: se.Name, fingerprint: se.Fingerprint, max: most, spec: spec, hooks: hooks, log: log}
	}
}

// Close closes every shared upstream; views used after it fail.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	all := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		all = append(all, e)
	}
	clear(r.entries)
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range all {
		wg.Go(e.close)
	}
	wg.Wait()
}

// Instances is how many upstream instances the registry holds (opened
// or not yet started), for hub status and tests.
func (r *Registry) Instances() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.entries {
		n += len(e.pool.Instances())
	}
	return n
}

// EntryStatus is one shared entry, for hub status.
type EntryStatus struct {
	// Server is the entry's name in the session that used it first.
	Server string `json:"server"`
	// Mode is "shared" (one instance for every session), "leased" (an
	// instance per session with calls in flight) or "unknown" (not
	// started yet).
	Mode      string           `json:"mode"`
	Sessions  []string         `json:"sessions"`
	Instances []InstanceStatus `json:"instances"`
}

// InstanceStatus is one instance of a shared entry.
type InstanceStatus struct {
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
	// Holder is the session whose calls it serves now ("" when idle).
	Holder string `json:"holder,omitempty"`
}

// Status describes every entry the registry holds, by server name.
func (r *Registry) Status() []EntryStatus {
	r.mu.Lock()
	all := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		all = append(all, e)
	}
	r.mu.Unlock()
	out := make([]EntryStatus, 0, len(all))
	for _, e := range all {
		out = append(out, e.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Server < out[j].Server })
	return out
}

// join adds v to the entry of key, making it from v when there is none;
// nil once the registry is closed.
func (r *Registry) join(key string, v *View) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	e := r.entries[key]
	if e == nil {
		e = newEntry(r, key, v)
		r.entries[key] = e
	}
	e.join(v)
	return e
}

// unused closes e after the linger unless a session joined it since.
func (r *Registry) unused(e *entry) {
	time.AfterFunc(r.linger, func() {
		r.mu.Lock()
		if r.entries[e.key] != e || !e.idleSince(r.linger) {
			r.mu.Unlock()
			return
		}
		delete(r.entries, e.key)
		r.mu.Unlock()
		e.close()
	})
}

// entryKey says which sessions may share an instance: the same entry
// (fingerprint) run the same way (the session the plugin is given, less
// the name a project calls it by), for clients that speak the same
// revision with the same capabilities (a legacy instance declares them
// once, at initialize).
func entryKey(fingerprint string, spec upstream.Spec, revision string, caps json.RawMessage) string {
	// The fingerprint covers max_instances, so views of one key agree on
	// it.
	sess := spec.Session
	sess.Server = ""
	data, _ := json.Marshal(struct {
		Fingerprint, Revision string
		Session               any
		Capabilities          json.RawMessage
		Timeout, Idle, Grace  time.Duration
		Fallback              string
	}{fingerprint, revision, sess, caps, spec.RequestTimeout, spec.IdleTTL, spec.CloseGrace, spec.Fallback})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
