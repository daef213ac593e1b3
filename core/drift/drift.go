// Package drift notices when an upstream tool changes after it was first
// seen: a description or schema that changes under an approved name is how
// a trusted server turns hostile (a "rug pull"). Each tool's description
// and schemas are hashed, per server, in $ICA_HOME/mcp-tool-hashes.json;
// the first hashes seen are the approved ones until the user approves
// the new ones.
package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/atomicfile"
)

// FileName is the store's file in $ICA_HOME.
const FileName = "mcp-tool-hashes.json"

// Store keeps the approved and current hashes of every tool seen.
type Store struct {
	path string
	mu   sync.Mutex
}

// New returns the store kept in dir.
func New(dir string) *Store { return &Store{path: filepath.Join(dir, FileName)} }

type hashes struct {
	Description string `json:"description"`
	Schema      string `json:"schema"`
}

type entry struct {
	Approved  hashes    `json:"approved"`
	Current   hashes    `json:"current"`
	FirstSeen time.Time `json:"first_seen"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
}

type file struct {
	Version int                         `json:"version"`
	Servers map[string]map[string]entry `json:"servers"`
}

// Change is a tool that differs from what was approved.
type Change struct {
	Server string `json:"server"`
	Tool   string `json:"tool"`
	// What changed: "description", "schema", or both.
	What      []string  `json:"changed"`
	ChangedAt time.Time `json:"changed_at"`
}

func sum(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func hashOf(raw json.RawMessage) (string, hashes) {
	r := gjson.GetManyBytes(raw, "name", "description", "inputSchema", "outputSchema", "title", "annotations")
	return r[0].Str, hashes{
		Description: sum(r[1].Raw, r[4].Raw, r[5].Raw),
		Schema:      sum(r[2].Raw, r[3].Raw),
	}
}

// Observe records the tools a server listed and returns those that
// differ from what was approved. A tool seen for the first time is
// approved as it is.
func (s *Store) Observe(server string, tools []json.RawMessage) ([]Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return nil, err
	}
	known := f.Servers[server]
	if known == nil {
		known = map[string]entry{}
		f.Servers[server] = known
	}
	now := time.Now().UTC().Truncate(time.Second)
	dirty := false
	var changes []Change
	for _, raw := range tools {
		name, h := hashOf(raw)
		if name == "" {
			continue
		}
		e, ok := known[name]
		switch {
		case !ok:
			known[name] = entry{Approved: h, Current: h, FirstSeen: now}
			dirty = true
			continue
		case e.Current != h:
			e.Current, e.ChangedAt = h, now
			known[name] = e
			dirty = true
		}
		if c := diff(server, name, e); c != nil {
			changes = append(changes, *c)
		}
	}
	if dirty {
		if err := s.save(f); err != nil {
			return changes, err
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Tool < changes[j].Tool })
	return changes, nil
}

func diff(server, tool string, e entry) *Change {
	var what []string
	if e.Current.Description != e.Approved.Description {
		what = append(what, "description")
	}
	if e.Current.Schema != e.Approved.Schema {
		what = append(what, "schema")
	}
	if len(what) == 0 {
		return nil
	}
	return &Change{Server: server, Tool: tool, What: what, ChangedAt: e.ChangedAt}
}

// Changes lists server's tools that differ from what was approved, as
// last seen.
func (s *Store) Changes(server string) ([]Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return nil, err
	}
	var out []Change
	for name, e := range f.Servers[server] {
		if c := diff(server, name, e); c != nil {
			out = append(out, *c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tool < out[j].Tool })
	return out, nil
}

// Approve accepts the current form of every tool of server; it returns
// how many were approved anew.
func (s *Store) Approve(server string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return 0, err
	}
	n := 0
	for name, e := range f.Servers[server] {
		if e.Approved != e.Current {
			e.Approved = e.Current
			f.Servers[server][name] = e
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	return n, s.save(f)
}

func (s *Store) load() (*file, error) {
	f := &file{Version: 1, Servers: map[string]map[string]entry{}}
	if _, err := atomicfile.ReadJSON(s.path, f); err != nil {
		return nil, err
	}
	if f.Servers == nil {
		f.Servers = map[string]map[string]entry{}
	}
	return f, nil
}

func (s *Store) save(f *file) error { return atomicfile.WriteJSON(s.path, f) }
