// Package upstreamfacts remembers facts about upstream servers between runs, in
// $ICA_HOME/mcp-upstreams.json: which transport a url-only server speaks,
// so it is probed once rather than at every start, and what each server
// offers, so the proxy can answer its client's initialize at once; and
// which kind of token a server takes when it refused the other kind, so
// the next login asks for the right one.
//
// It is a cache. Losing it costs one probe or one short wait; a stale
// entry corrects itself, because the proxy falls back when a remembered
// transport is refused and records what a server offers each time it
// connects.
package upstreamfacts

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/atomicfile"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/filelock"
)

// lockWait bounds the wait for another process's write.
const lockWait = 5 * time.Second

// FileName is the memo's file in $ICA_HOME.
const FileName = "mcp-upstreams.json"

// Memo is the memo file of one $ICA_HOME. It is safe for concurrent use.
type Memo struct {
	path string
	mu   sync.Mutex
}

// Offers is what a server offers beyond tools.
type Offers struct {
	Resources   bool `json:"resources,omitempty"`
	Prompts     bool `json:"prompts,omitempty"`
	Completions bool `json:"completions,omitempty"`
	// Tasks: the server runs tool calls as tasks (2025-11-25).
	Tasks bool `json:"tasks,omitempty"`
	// TasksExtension: the server speaks the tasks extension
	// (io.modelcontextprotocol/tasks, 2026-07-28).
	TasksExtension bool `json:"tasks_extension,omitempty"`
}

type file struct {
	// Transports maps a server URL to the transport it speaks.
	Transports map[string]transportRecord `json:"transports,omitempty"`
	// Offers maps a server key (name and config fingerprint) to what it
	// offered when it last connected.
	Offers map[string]offersRecord `json:"offers,omitempty"`
	// Revisions maps a server key to what it was found to speak: the
	// stateless revision (2026-07-28 and later) and the initialize ones,
	// each "yes", "no" or not yet tried.
	Revisions map[string]revisionRecord `json:"revisions,omitempty"`
	// TokenKinds maps a server key to the kind of token ("Bearer" or
	// "DPoP") the server takes, learned when it refused the other kind.
	TokenKinds map[string]tokenKindRecord `json:"token_kinds,omitempty"`
}

type tokenKindRecord struct {
	Kind    string    `json:"kind"`
	Reason  string    `json:"reason,omitempty"`
	Checked time.Time `json:"checked"`
}

type revisionRecord struct {
	Stateless  string `json:"stateless,omitempty"`
	Initialize string `json:"initialize,omitempty"`
	// Revision is how a file written before both were kept says it:
	// "stateless" (then initialize was not tried) or "initialize" (then
	// server/discover went unanswered).
	Revision string    `json:"revision,omitempty"`
	Checked  time.Time `json:"checked"`
}

type transportRecord struct {
	Transport string    `json:"transport"`
	Checked   time.Time `json:"checked"`
}

type offersRecord struct {
	Offers
	Checked time.Time `json:"checked"`
}

// New returns the memo kept in dir.
func New(dir string) *Memo {
	return &Memo{path: filepath.Join(dir, FileName)}
}

// Get returns the transport remembered for url, or "".
func (m *Memo) Get(url string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, _ := m.load()
	return f.Transports[url].Transport
}

// Set remembers that url speaks transport. Another process writing at the
// same moment may win; either answer is right.
func (m *Memo) Set(url, transport string) error {
	return m.update(func(f *file) bool {
		if f.Transports[url].Transport == transport {
			return false
		}
		if f.Transports == nil {
			f.Transports = map[string]transportRecord{}
		}
		f.Transports[url] = transportRecord{Transport: transport, Checked: now()}
		return true
	})
}

// Offers returns what the server with key offered last time, and whether
// that is known.
func (m *Memo) Offers(key string) (Offers, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, _ := m.load()
	r, ok := f.Offers[key]
	return r.Offers, ok
}

// SetOffers remembers what the server with key offers.
func (m *Memo) SetOffers(key string, o Offers) error {
	return m.update(func(f *file) bool {
		if r, ok := f.Offers[key]; ok && r.Offers == o {
			return false
		}
		if f.Offers == nil {
			f.Offers = map[string]offersRecord{}
		}
		f.Offers[key] = offersRecord{Offers: o, Checked: now()}
		return true
	})
}

// Speaks returns what the server with key was found to speak: for the
// stateless revision and for the initialize ones, each "yes", "no" or ""
// (not tried).
func (m *Memo) Speaks(key string) (stateless, initialize string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, _ := m.load()
	r := f.Revisions[key]
	switch {
	case r.Stateless != "" || r.Initialize != "":
		return r.Stateless, r.Initialize
	case r.Revision == "stateless":
		return "yes", ""
	case r.Revision == "initialize":
		return "no", "yes"
	}
	return "", ""
}

// SetSpeaks remembers what the server with key speaks.
func (m *Memo) SetSpeaks(key, stateless, initialize string) error {
	return m.update(func(f *file) bool {
		r := f.Revisions[key]
		if r.Stateless == stateless && r.Initialize == initialize && r.Revision == "" {
			return false
		}
		if f.Revisions == nil {
			f.Revisions = map[string]revisionRecord{}
		}
		f.Revisions[key] = revisionRecord{Stateless: stateless, Initialize: initialize, Checked: now()}
		return true
	})
}

// TokenKind returns the kind of token the server with key takes, and
// why, as learned from a refusal; "" when none was.
func (m *Memo) TokenKind(key string) (kind, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, _ := m.load()
	r := f.TokenKinds[key]
	return r.Kind, r.Reason
}

// SetTokenKind remembers that the server with key takes kind of token,
// and why.
func (m *Memo) SetTokenKind(key, kind, reason string) error {
	return m.update(func(f *file) bool {
		if r := f.TokenKinds[key]; r.Kind == kind && r.Reason == reason {
			return false
		}
		if f.TokenKinds == nil {
			f.TokenKinds = map[string]tokenKindRecord{}
		}
		f.TokenKinds[key] = tokenKindRecord{Kind: kind, Reason: reason, Checked: now()}
		return true
	})
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// update applies change to the file and writes it back if it changed. The
// write goes to a temporary file renamed into place, so a reader never
// sees half of it.
func (m *Memo) update(change func(*file) bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Other processes share the file: the lock keeps their changes from
	// overwriting each other (a kind of token learned is no mere cache).
	ctx, cancel := context.WithTimeout(context.Background(), lockWait)
	defer cancel()
	release, err := filelock.Acquire(ctx, m.path+".lock", 5*time.Millisecond)
	if err != nil {
		return fmt.Errorf("memo: %w", err)
	}
	defer release()
	f, err := m.load()
	if err != nil {
		f = file{} // unreadable: start over
	}
	if !change(&f) {
		return nil
	}
	if err := atomicfile.WriteJSON(m.path, f); err != nil {
		return fmt.Errorf("memo: %w", err)
	}
	return nil
}

func (m *Memo) load() (file, error) {
	var f file
	if _, err := atomicfile.ReadJSON(m.path, &f); err != nil {
		return file{}, err
	}
	return f, nil
}
