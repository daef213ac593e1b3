// Package toolcache keeps the last tool list of each upstream server in
// $ICA_HOME/mcp-tool-cache.json, so that a proxy starting up answers
// tools/list at once, before any server has started, and learns what
// changed when the servers answer (tools/list_changed). An entry is keyed
// by the server's name and the fingerprint of its config entry: any edit
// of the entry leaves the cached list unused.
//
// It is a cache: a lost or stale file costs one wait for the servers. Two
// proxies writing at once each merge their entries into what is on disk.
package toolcache

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/atomicfile"
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
	Fingerprint string    `json:"fingerprint"`
	Tools       []string  `json:"tools"`
	Listed      time.Time `json:"listed"`
}

func (e entry) raw() []json.RawMessage {
	out := make([]json.RawMessage, len(e.Tools))
	for i, t := range e.Tools {
		out[i] = json.RawMessage(t)
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

// Get returns the cached tools of server if they were listed with the
// config entry whose fingerprint is fp.
func (c *Cache) Get(server, fp string) ([]json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.dirty[server]; ok {
		return e.raw(), e.Fingerprint == fp
	}
	if c.loaded == nil {
		c.loaded = read(c.path)
	}
	e, ok := c.loaded.Servers[server]
	if !ok || e.Fingerprint != fp {
		return nil, false
	}
	return e.raw(), true
}

// Put records server's tools, listed with the entry fingerprinted fp. The
// file is written a moment later, with what other servers added meanwhile,
// and only if the list changed.
func (c *Cache) Put(server, fp string, tools []json.RawMessage) {
	if cur, ok := c.Get(server, fp); ok && same(cur, tools) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	strs := make([]string, len(tools))
	for i, t := range tools {
		strs[i] = string(t)
	}
	c.dirty[server] = entry{Fingerprint: fp, Tools: strs, Listed: time.Now().UTC().Truncate(time.Second)}
	if c.timer == nil {
		c.timer = time.AfterFunc(flushDelay, func() { _ = c.Flush() })
	}
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
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(c.path, b.Bytes(), 0o600)
}

func same(a, b []json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
