// Package drift notices when an upstream tool changes after it was first
// seen: a description or schema that changes under an approved name is how
// a trusted server turns hostile (a "rug pull"). Each tool's description
// and schemas are hashed, per server, in $ICA_HOME/mcp-tool-hashes.json;
// the first hashes seen are the approved ones until the user approves
// the new ones.
package drift

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
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
	// cached is the file as this store last read or wrote it, and stat
	// what the file was then: while the file is the same (the same file,
	// size and modification time), a load is not a read. Every listing
	// of every server observes, and the hub's sessions share one store.
	cached *file
	stat   os.FileInfo
}

// New returns the store kept in dir.
func New(dir string) *Store { return &Store{path: filepath.Join(dir, FileName)} }

type hashes struct {
	Description string `json:"description"`
	Schema      string `json:"schema"`
}

// hashVersion is how the hashes of an entry were made. Version 0 hashed
// a few members as gjson read them (the first of two with one name);
// version 2 hashes exactly what is mirrored.
const hashVersion = 2

type entry struct {
	Approved  hashes    `json:"approved"`
	Current   hashes    `json:"current"`
	FirstSeen time.Time `json:"first_seen"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
	// V is the hashVersion of Approved and Current.
	V int `json:"v,omitempty"`
	// Reviewed says the user approved Current explicitly (approve), not
	// on first sight: a tool the poisoning checks flag is let through
	// only then.
	Reviewed bool `json:"reviewed,omitempty"`
}

type file struct {
	Version int                         `json:"version"`
	Servers map[string]map[string]entry `json:"servers"`
}

// What a Change says changed.
const (
	WhatDescription = "description"
	WhatSchema      = "schema"
	// WhatNew is a tool that appeared on a server already approved: in
	// strict mode it waits for approval like a changed one.
	WhatNew = "new"
)

// Change is a tool that differs from what was approved.
type Change struct {
	Server string `json:"server"`
	Tool   string `json:"tool"`
	// What changed: "description", "schema", both, or "new".
	What      []string  `json:"changed"`
	ChangedAt time.Time `json:"changed_at"`
}

func sum(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// hashOf hashes a tool exactly as the mirror passes it on: its members
// other than the name, re-encoded as the mirror re-encodes them (members
// sorted, values compacted). The schemas are hashed apart, to say which
// changed. A tool must have no member twice (the caller refuses those).
func hashOf(raw json.RawMessage) (string, hashes, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", hashes{}, false
	}
	var name string
	if err := json.Unmarshal(m["name"], &name); err != nil || name == "" {
		return "", hashes{}, false
	}
	in, out := compact(m["inputSchema"]), compact(m["outputSchema"])
	delete(m, "name")
	delete(m, "inputSchema")
	delete(m, "outputSchema")
	rest, _ := json.Marshal(m)
	return name, hashes{Description: sum(rest), Schema: sum(in, out)}, true
}

func compact(raw json.RawMessage) []byte {
	if raw == nil {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// legacyHashOf is how version 0 hashed a tool, to carry its approvals
// over to version 2 where the tool has not changed.
func legacyHashOf(raw json.RawMessage) hashes {
	r := gjson.GetManyBytes(raw, "description", "inputSchema", "outputSchema", "title", "annotations")
	str := func(rs ...gjson.Result) string {
		parts := make([][]byte, len(rs))
		for i, x := range rs {
			parts[i] = []byte(x.Raw)
		}
		return sum(parts...)
	}
	return hashes{Description: str(r[0], r[3], r[4]), Schema: str(r[1], r[2])}
}

// Observe records the tools a server listed and returns those that
// differ from what was approved, and the tools whose current form the
// user approved explicitly. A server seen for the first time has its
// tools approved as they are; a tool new to a server seen before is too,
// unless holdNew (strict mode), when it waits for approval.
func (s *Store) Observe(server string, tools []json.RawMessage, holdNew bool) ([]Change, map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return nil, nil, err
	}
	known := f.Servers[server]
	firstSight := len(known) == 0
	if known == nil {
		known = map[string]entry{}
		f.Servers[server] = known
	}
	now := time.Now().UTC().Truncate(time.Second)
	dirty := false
	var changes []Change
	reviewed := map[string]bool{}
	for _, raw := range tools {
		name, h, ok := hashOf(raw)
		if !ok {
			continue
		}
		e, ok := known[name]
		switch {
		case !ok && (firstSight || !holdNew):
			known[name] = entry{Approved: h, Current: h, FirstSeen: now, V: hashVersion}
			dirty = true
			continue
		case !ok:
			e = entry{Current: h, FirstSeen: now, ChangedAt: now, V: hashVersion}
			known[name] = e
			dirty = true
		case e.V < hashVersion:
			// Made by an older proxy: approved as it is if it is what
			// was approved then, else still a change.
			legacy := legacyHashOf(raw)
			if legacy.Description == e.Approved.Description {
				e.Approved.Description = h.Description
			}
			if legacy.Schema == e.Approved.Schema {
				e.Approved.Schema = h.Schema
			}
			if e.Current != h {
				e.ChangedAt = now
			}
			e.Current, e.V = h, hashVersion
			known[name] = e
			dirty = true
		case e.Current != h:
			e.Current, e.ChangedAt, e.Reviewed = h, now, false
			known[name] = e
			dirty = true
		}
		if e.Reviewed && e.Approved == e.Current {
			reviewed[name] = true
		}
		if c := diff(server, name, e); c != nil {
			changes = append(changes, *c)
		}
	}
	if dirty {
		if err := s.save(f); err != nil {
			return changes, reviewed, err
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Tool < changes[j].Tool })
	return changes, reviewed, nil
}

func diff(server, tool string, e entry) *Change {
	var what []string
	switch {
	case e.Approved == hashes{}:
		what = append(what, WhatNew)
	default:
		if e.Current.Description != e.Approved.Description {
			what = append(what, WhatDescription)
		}
		if e.Current.Schema != e.Approved.Schema {
			what = append(what, WhatSchema)
		}
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

// Approve accepts the current form of server's tool, or of all its tools
// when tool is "", as the user's explicit review; it returns how many
// tools it approved anew. A tool never seen is an error.
func (s *Store) Approve(server, tool string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.load()
	if err != nil {
		return 0, err
	}
	known := f.Servers[server]
	if tool != "" {
		if _, ok := known[tool]; !ok {
			return 0, fmt.Errorf("server %q has no tool %q seen by this proxy (run `ica-mcp-proxy tools --server %s` to list it)", server, tool, server)
		}
	}
	n, dirty := 0, false
	for name, e := range known {
		if tool != "" && name != tool {
			continue
		}
		if e.Approved != e.Current {
			n++
		}
		if e.Approved != e.Current || !e.Reviewed {
			e.Approved, e.Reviewed = e.Current, true
			known[name] = e
			dirty = true
		}
	}
	if !dirty {
		return 0, nil
	}
	return n, s.save(f)
}

// AcceptChanges approves the current form of server's changed and new
// tools and returns them; unlike Approve it does not mark any tool as
// reviewed, so a tool the poisoning checks flag stays quarantined. It is
// what trusting a project does for its servers.
func (s *Store) AcceptChanges(server string) ([]Change, error) {
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
			e.Approved = e.Current
			f.Servers[server][name] = e
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tool < out[j].Tool })
	return out, s.save(f)
}

// load is the file's content; s.mu held. The caller may change it, and
// must save it when it does.
func (s *Store) load() (*file, error) {
	fi, err := os.Stat(s.path)
	if err == nil && s.cached != nil && sameFile(s.stat, fi) {
		return s.cached, nil
	}
	s.cached, s.stat = nil, nil
	f := &file{Version: 1, Servers: map[string]map[string]entry{}}
	if _, err := atomicfile.ReadJSON(s.path, f); err != nil {
		return nil, err
	}
	if f.Servers == nil {
		f.Servers = map[string]map[string]entry{}
	}
	// The stat from before the read: a write since makes the next load
	// read again.
	if fi != nil {
		s.cached, s.stat = f, fi
	}
	return f, nil
}

// save writes f; s.mu held. What failed to be written is not kept.
func (s *Store) save(f *file) error {
	s.cached, s.stat = nil, nil
	if err := atomicfile.WriteJSON(s.path, f); err != nil {
		return err
	}
	if fi, err := os.Stat(s.path); err == nil {
		s.cached, s.stat = f, fi
	}
	return nil
}

// sameFile says a and b are the same file unchanged: written in place or
// replaced, one of these differs.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
