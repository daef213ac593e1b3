package coretest

import (
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/proxy"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/share"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// Hub makes Cores that share their upstreams through one registry, as
// the sessions of a hub do: each Core is one session's, over the same
// folders and scripted servers.
type Hub struct {
	Transport *scripted.Transport
	Registry  *share.Registry
	opts      Options
	cores     int
}

// HubOptions are a hub's own settings.
type HubOptions struct {
	// MaxInstances is the most instances of a legacy entry (the
	// registry's default when 0).
	MaxInstances int
	// Linger is how long an entry no session uses stays open.
	Linger time.Duration
}

// NewHub makes the hub; o is as for New and applies to every Core.
func NewHub(t testing.TB, o Options, h HubOptions) *Hub {
	t.Helper()
	if o.Root == "" {
		o.Root = t.TempDir()
	}
	if h.MaxInstances == 0 {
		h.MaxInstances = share.DefaultMaxInstances
	}
	transport := scripted.NewTransport(o.Scripts)
	log := hclog.New(&hclog.LoggerOptions{Name: "share", Level: hclog.Warn, Output: testOutput{t}})
	reg := share.New(opener{sdktest.Local(transport)}, log, h.MaxInstances, h.Linger)
	t.Cleanup(reg.Close)
	return &Hub{Transport: transport, Registry: reg, opts: o}
}

// Core makes one session's core; it shares the hub's upstreams.
func (h *Hub) Core(t testing.TB) *Core {
	t.Helper()
	h.cores++
	session := "core-" + strconv.Itoa(h.cores)
	return build(t, h.opts, h.Transport, func(*Core) proxy.ShareFunc { return h.Registry.For(session, nil) })
}
