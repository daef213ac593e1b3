// Package toolcache keeps the last tool list of each upstream server in
// $ICA_HOME/mcp-tool-cache.json, so that a proxy starting up answers
// tools/list at once, before any server has started, and learns what
// changed when the servers answer (tools/list_changed). A server started
// lazily may not start at all in a session: its resources, resource
// templates and prompts are kept beside its tools, so that their lists
// are answered without it too. An entry is keyed by the server's name and
// the fingerprint of its config entry: any edit of the entry leaves the
// cached lists unused.
//
// It is a cache: a lost or stale file costs one wait for the servers. Two
// proxies writing at once each merge their entries into what is on disk.
package toolcache

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"sync"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/atomicfile"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// FileName is the cache's file in $ICA_HOME.
const FileName = "mcp-tool-cache.json"

// flushDelay gathers the lists of servers arriving one after the other at
// start into one write.
const flushDelay = 500 * time.Millisecond

// entry keeps each tool as a JSON string holding its exact bytes: as raw
// JSON, the encoder would compact it and escape <, > and &, and the
// mirror promises the upstream's own bytes.
type entry struct {
	Fingerprint string `json:"fingerprint"`
	// Tools is nil until the server's tools are listed.
	Tools  []string  `json:"tools"`
	Listed time.Time `json:"listed"`
	// Lists are the server's other lists, by the name of their field in
	// a list result ("resources", "resourceTemplates", "prompts").
	Lists map[string][]string `json:"lists,omitempty"`
}

func raw(items []string) []json.RawMessage {
	out := make([]json.RawMessage, len(items))
	for i, t := range items {
		out[i] = json.RawMessage(t)
	}
	return out
}

func strs(items []json.RawMessage) []string {
	out := make([]string, len(items))
	for i, t := range items {
		out[i] = string(t)
	}
	return out
}

type file struct {
	Version int              `json:"version"`
	Servers map[string]entry `json:"servers"`
}

// Cache is the tool cache of one $ICA_HOME. It is safe for concurrent use.
type Cache struct {
	path string

	mu     sync.Mutex
	loaded *file            // what was read at the first Get
	dirty  map[string]entry // written at the next flush
	timer  *time.Timer
}

// New returns the cache kept in dir.
func New(dir string) *Cache {
	return &Cache{path: filepath.Join(dir, FileName), dirty: map[string]entry{}}
}

func read(path string) *file {
	f := &file{Version: 1, Servers: map[string]entry{}}
	if _, err := atomicfile.ReadJSON(path, f); err != nil || f.Servers == nil {
		return &file{Version: 1, Servers: map[string]entry{}}
	}
	return f
}

// current is server's entry if it was made with the config entry whose
// fingerprint is fp; c.mu held.
func (c *Cache) current(server, fp string) (entry, bool) {
	e, ok := c.dirty[server]
	if !ok {
		if c.loaded == nil {
			c.loaded = read(c.path)
		}
		e, ok = c.loaded.Servers[server]
	}
	return e, ok && e.Fingerprint == fp
}

// Get returns the cached tools of server if they were listed with the
// config entry whose fingerprint is fp.
func (c *Cache) Get(server, fp string) ([]json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.current(server, fp)
	if !ok || e.Tools == nil {
		return nil, false
	}
	return raw(e.Tools), true
}

// Has says whether Get would find server's tools.
func (c *Cache) Has(server, fp string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.current(server, fp)
	return ok && e.Tools != nil
}

// GetList returns one of server's other lists (by its field name, such
// as "prompts") if it was listed with the entry fingerprinted fp.
func (c *Cache) GetList(server, fp, field string) ([]json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.current(server, fp)
	items, listed := e.Lists[field]
	if !ok || !listed {
		return nil, false
	}
	return raw(items), true
}

// Put records server's tools, listed with the entry fingerprinted fp. The
// file is written a moment later, with what other servers added meanwhile,
// and only if the list changed.
func (c *Cache) Put(server, fp string, tools []json.RawMessage) {
	c.update(server, fp, func(e *entry) bool {
		if e.Tools != nil && same(e.Tools, tools) {
			return false
		}
		e.Tools = strs(tools)
		e.Listed = time.Now().UTC().Truncate(time.Second)
		return true
	})
}

// PutList records one of server's other lists, and says whether it
// differs from the one cached (or none was); see Put.
func (c *Cache) PutList(server, fp, field string, items []json.RawMessage) (changed bool) {
	return c.update(server, fp, func(e *entry) bool {
		if cur, ok := e.Lists[field]; ok && same(cur, items) {
			return false
		}
		lists := make(map[string][]string, len(e.Lists)+1)
		for k, v := range e.Lists {
			lists[k] = v
		}
		lists[field] = strs(items)
		e.Lists = lists
		return true
	})
}

// update changes server's entry (a new one if fp is not its fingerprint)
// and schedules a write if change says it changed anything, which it
// returns.
func (c *Cache) update(server, fp string, change func(*entry) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.current(server, fp)
	if !ok {
		e = entry{Fingerprint: fp}
	}
	if !change(&e) {
		return false
	}
	c.dirty[server] = e
	if c.timer == nil {
		c.timer = time.AfterFunc(flushDelay, func() { _ = c.Flush() })
	}
	return true
}

// Flush writes what is pending now.
func (c *Cache) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if len(c.dirty) == 0 {
		return nil
	}
	f := read(c.path) // another proxy's entries are kept
	for name, e := range c.dirty {
		f.Servers[name] = e
	}
	c.loaded, c.dirty = f, map[string]entry{}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return err
	}
	if err := safefile.MkdirPrivate(filepath.Dir(c.path)); err != nil {
		return err
	}
	return atomicfile.Write(c.path, b.Bytes(), 0o600)
}

func same(a []string, b []json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != string(b[i]) {
			return false
		}
	}
	return true
}
