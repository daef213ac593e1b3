package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// The handshake that opens a session: server/discover first (the
// stateless 2026-07-28 revision), else initialize in the newest revision
// that has it; then, for a stateless server, the stream on which it
// reports list changes.

// listen opens the stream on which a stateless server reports changes to
// its lists (2026-07-28 sends none unasked): the session's notify hook
// gets them like any server's notifications. It stays open as long as
// the session.
func (c *Conn) listen(caps *mcp.ServerCapabilities) {
	want := mcp.SubscriptionFilter{
		ToolsListChanged:     caps.Tools != nil && caps.Tools.ListChanged,
		PromptsListChanged:   caps.Prompts != nil && caps.Prompts.ListChanged,
		ResourcesListChanged: caps.Resources != nil && caps.Resources.ListChanged,
	}
	if want.IsEmpty() {
		return
	}
	params, _ := json.Marshal(map[string]any{"notifications": want})
	c.Start(Call{Method: string(mcp.MethodSubscriptionsListen), Params: params, Done: func(r Reply, err error) {
		code := gjson.GetBytes(r.Error, "code").Int()
		switch {
		case err != nil: // the session ended
		case code == mcp.METHOD_NOT_FOUND || code == mcp.INVALID_PARAMS:
			c.logger.Debug("the server refused subscriptions/listen; its list changes will not be heard", "server", c.server, "error", string(r.Error))
		default:
			// The server, or a broken stream, ended it: listen again,
			// after a moment, for as long as the session lives.
			time.AfterFunc(relistenAfter, func() {
				if c.Err() == nil {
					c.listen(caps)
				}
			})
		}
	}})
}

// relistenAfter is the pause before a stateless server's listen stream,
// ended by the server, is opened again.
const relistenAfter = time.Second

// probeGrace is how long the probe waits for server/discover's answer
// once the ping sent after it is answered: a server that handles
// requests in order has ignored the probe by then.
const probeGrace = 5 * time.Millisecond

// probeLimit bounds a probe that nothing answers; the handshake follows,
// with its own bounds.
const probeLimit = 10 * time.Second

// discovered is what server/discover told: the revision it was asked in,
// and the answer in the shape of initialize's.
type discovered struct {
	version string
	result  *mcp.InitializeResult
}

// probe asks a server whether it speaks the stateless revision, as the
// 2026-07-28 rules say: server/discover first; its result means yes, and
// so does a modern error (an unsupported version: the probe is asked
// again, once, in the newest modern version the server names); any other
// error, or a result that is not a discover result, means no (nil). Over
// a stream (ping true) a legacy server may ignore the unknown request
// instead of answering it, so a ping follows it at once: when the ping is
// answered and the probe is not, shortly after, the server ignored it.
func (c *Conn) probe(ctx context.Context, ping bool) (*discovered, error) {
	version := mcp.LATEST_PROTOCOL_VERSION
	for attempt := 0; ; attempt++ {
		a, err := c.probeOnce(ctx, version, ping)
		if err != nil || a == nil {
			return nil, err
		}
		if a.Error == nil {
			var d mcp.DiscoverResult
			if err := json.Unmarshal(a.Result, &d); err != nil {
				c.logger.Debug("server/discover's result does not read; trying initialize", "server", c.server, "error", err)
				return nil, nil
			}
			return &discovered{version: version, result: fromDiscover(version, &d)}, nil
		}
		var e struct {
			Code int `json:"code"`
			Data struct {
				Supported []string `json:"supported"`
			} `json:"data"`
		}
		if json.Unmarshal(a.Error, &e) != nil || e.Code != mcp.UNSUPPORTED_PROTOCOL_VERSION {
			return nil, nil //nolint:nilerr // another refusal: a legacy server, to be asked initialize
		}
		next := mcp.NegotiateMutuallySupportedVersion(e.Data.Supported)
		if attempt > 0 || !mcp.IsModernProtocol(next) {
			// A modern server after all, that speaks no modern version
			// the proxy does: the handshake may still work.
			return nil, nil
		}
		version = next
	}
}

// fromDiscover is a discover result in the shape of initialize's, which
// the rest of the proxy reads either way.
func fromDiscover(version string, d *mcp.DiscoverResult) *mcp.InitializeResult {
	r := &mcp.InitializeResult{ProtocolVersion: version, Capabilities: d.Capabilities, Instructions: d.Instructions}
	if info := d.GetResultMeta().ServerInfo(); info != nil {
		r.ServerInfo = *info
	}
	return r
}

// initialize performs the handshake of the revisions before 2026-07-28:
// initialize in the newest of them, a check that the server answered with
// a revision the proxy speaks, then notifications/initialized.
func (c *Conn) initialize(ctx context.Context) (*mcp.InitializeResult, error) {
	params, err := json.Marshal(struct {
		ProtocolVersion string                 `json:"protocolVersion"`
		ClientInfo      mcp.Implementation     `json:"clientInfo"`
		Capabilities    mcp.ClientCapabilities `json:"capabilities"`
	}{mcp.LATEST_LEGACY_PROTOCOL_VERSION, c.h.clientInfo, c.h.capabilities})
	if err != nil {
		return nil, err
	}
	r, err := c.request(ctx, Call{Method: string(mcp.MethodInitialize), Params: params, asIs: true})
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, refusal{rpcFailure(r.Error)}
	}
	var res mcp.InitializeResult
	if err := json.Unmarshal(r.Result, &res); err != nil {
		return nil, fmt.Errorf("the answer does not read: %w", err)
	}
	if mcp.IsModernProtocol(res.ProtocolVersion) {
		// A stateless revision has no initialize: the server is one.
		return nil, refusal{fmt.Errorf("the server answered initialize in protocol version %q, which has none", res.ProtocolVersion)}
	}
	if !mcp.IsValidProtocolVersion(res.ProtocolVersion) {
		return nil, refusal{fmt.Errorf("the server answered in protocol version %q; the proxy speaks %s",
			res.ProtocolVersion, strings.Join(mcp.ValidProtocolVersions, ", "))}
	}
	if err := c.Notify(string(mcp.MethodNotificationInitialized), nil); err != nil {
		return nil, fmt.Errorf("notifications/initialized: %w", err)
	}
	return &res, nil
}

// rpcFailure is a JSON-RPC error object as a Go error: its message and
// code.
func rpcFailure(raw json.RawMessage) error {
	var e mcp.JSONRPCErrorDetails
	if json.Unmarshal(raw, &e) != nil || e.Message == "" {
		return fmt.Errorf("error %s", raw)
	}
	return fmt.Errorf("%s (code %d)", e.Message, e.Code)
}

// probeOnce sends server/discover in version and returns its answer, or
// nil when the server ignored it.
func (c *Conn) probeOnce(ctx context.Context, version string, ping bool) (*Reply, error) {
	type answer struct {
		r   Reply
		err error
	}
	discovered, pong := make(chan answer, 1), make(chan answer, 1)
	params, _ := json.Marshal(map[string]any{"_meta": map[string]any{
		mcp.MetaKeyProtocolVersion:    version,
		mcp.MetaKeyClientCapabilities: c.h.capabilities,
		mcp.MetaKeyClientInfo:         c.h.clientInfo,
	}})
	discoverID := c.start(Call{Method: string(mcp.MethodServerDiscover), Params: params, asIs: true, Done: func(r Reply, err error) { discovered <- answer{r, err} }})
	defer c.finish(discoverID, Reply{}, errProbeEnded)
	if ping {
		pingID := c.start(Call{Method: string(mcp.MethodPing), asIs: true, Done: func(r Reply, err error) { pong <- answer{r, err} }})
		// Whatever was not answered is forgotten, without telling a
		// server that may not take notifications yet.
		defer c.finish(pingID, Reply{}, errProbeEnded)
	}
	limit := time.NewTimer(probeLimit)
	defer limit.Stop()
	select {
	case a := <-discovered:
		return &a.r, a.err
	case a := <-pong:
		if a.err != nil {
			return nil, a.err
		}
		select {
		case a := <-discovered:
			return &a.r, a.err
		case <-time.After(probeGrace):
			c.logger.Debug("the server ignored server/discover: it speaks an initialize revision", "server", c.server)
			return nil, nil
		}
	case <-limit.C:
		c.logger.Debug("server/discover went unanswered; trying initialize", "server", c.server)
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refusal is an initialize the server answered with a refusal (an
// error, or a revision the proxy does not speak): it may speak the
// stateless revision instead.
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

// errProbeEnded ends the probe's requests that were not answered.
var errProbeEnded = errors.New("the probe ended")

// handshake opens the MCP session on a started Conn. On failure the Conn
// is closed, in the background.
//
// The client's revision is tried first (server/discover for a stateless
// client, initialize for a legacy one), then the other: a server that
// speaks both is spoken to as the client speaks, and bridging is left to
// servers that speak only the other. What was found is remembered per
// server, so later sessions try only what works.
func (c *Conn) handshake(ctx context.Context, spec sdk.SessionSpec) error {
	order := []string{RevisionStateless, RevisionInitialize}
	if c.h.prefer == RevisionInitialize {
		order = []string{RevisionInitialize, RevisionStateless}
	}
	known, found := c.h.speaks, c.h.speaks
	var (
		init    *mcp.InitializeResult
		version string
		refused error // initialize's refusal, when the probe follows it
	)
	fail := func(what string, err error) error {
		go c.Close(0) // the plugin makes sure the upstream goes
		if cerr := c.Err(); cerr != nil {
			return cerr // the upstream died during the handshake
		}
		return fmt.Errorf("server %q: %s: %w", spec.Server, what, err)
	}
	for i, kind := range order {
		last := i == len(order)-1
		switch {
		case kind == RevisionStateless && (known.stateless != No || last && refused == nil && known.initialize == No):
			// A server known to be stateless is asked without the ping:
			// it answers server/discover.
			d, err := c.probe(ctx, known.stateless == "" && spec.Transport != "http")
			if err != nil {
				return fail("server/discover", err)
			}
			if d == nil {
				found.stateless = No
				continue
			}
			found.stateless = Yes
			init, version = d.result, d.version
		case kind == RevisionInitialize && (known.initialize != No || last):
			res, err := c.initialize(ctx)
			if err != nil {
				if _, ok := errors.AsType[refusal](err); ok && !last && known.stateless != No {
					found.initialize, refused = No, err
					continue
				}
				return fail("initialize", err)
			}
			found.initialize = Yes
			init, version = res, res.ProtocolVersion
		default:
			continue
		}
		break
	}
	if init == nil {
		if refused == nil {
			refused = errors.New("it answers neither server/discover nor initialize")
		}
		return fail("initialize", refused)
	}
	if mcp.IsModernProtocol(version) {
		c.meta = requestMeta(version, c.h.capabilities, c.h.clientInfo)
		c.metaRaw = metaHead(c.meta)
		c.stateless.Store(true)
	}
	if c.h.learned != nil && found != known {
		c.h.learned(found)
	}
	c.init = init
	if c.meta != nil {
		c.listen(&init.Capabilities)
	}
	return nil
}
