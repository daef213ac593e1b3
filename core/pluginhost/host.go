package pluginhost

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Options configure a Host.
type Options struct {
	// Dir is the plugins folder, $ICA_HOME/plugins.
	Dir string
	// Logger is the parent of every plugin's logger.
	Logger hclog.Logger
	// Verifier checks plugin files before they start; nil accepts all.
	Verifier Verifier
	// Env is the plugins' whole environment (they never inherit the
	// proxy's, which may hold secrets). The host adds what it needs.
	Env []string
	// StartTimeout bounds a plugin's start and Info call.
	StartTimeout time.Duration
	// StreamOnly keeps every session's messages on its gRPC stream: no
	// plugin gets a descriptor channel (ICA_MCP_PROXY_DATA_PATH=stream).
	StreamOnly bool
}

// Host runs plugins on demand. It is safe for concurrent use.
type Host struct {
	opts Options

	// parentR is given to every plugin as fd 3; parentW is never written
	// and closes only when this process ends.
	parentR, parentW *os.File

	mu      sync.Mutex
	running map[string]*running // by plugin path
	closed  bool
}

// running is one plugin process, started at most once at a time.
type running struct {
	cand Candidate

	mu     sync.Mutex
	client *plugin.Client
	info   sdk.Info
	d      dispensed
	// since is when client started; crashes counts the crashes in a row
	// of processes that ran less than healthyAfter; none starts before
	// until.
	since   time.Time
	crashes int
	until   time.Time
}

// A plugin that crashed is started again when next needed: at once after
// one crash, then after a pause that doubles with each crash in a row, so
// that a plugin crashing at every start does not take the machine with
// it. The pause is the plugin's alone: the upstreams it served are not
// held to have failed (see upstream's restarts), and a request that can
// wait for the pause within its deadline does.
const (
	healthyAfter = 10 * time.Second
	firstPause   = 500 * time.Millisecond
	maxPause     = 30 * time.Second
)

// CrashedError says a crashed plugin is not started again yet.
type CrashedError struct {
	Plugin  string
	Crashes int
	RetryIn time.Duration
}

func (e *CrashedError) Error() string {
	return fmt.Sprintf("plugin %s crashed %d times in a row; it is started again in %s", e.Plugin, e.Crashes, e.RetryIn.Round(100*time.Millisecond))
}

// dispensed is the client a started plugin offers, by its kind.
type dispensed struct {
	tc sdk.TransportClient
	ac sdk.AuthClient
	// ch is the host's end of the plugin's descriptor channel, if any.
	ch *sdk.FDChannel
}

// release closes what the host holds for a plugin that is gone.
func (d dispensed) release() {
	if d.ch != nil {
		_ = d.ch.Close()
	}
}

// New returns a Host; nothing is started until a plugin is needed.
func New(opts Options) (*Host, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Verifier == nil {
		opts.Verifier = AcceptAll{}
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 10 * time.Second
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("plugin parent pipe: %w", err)
	}
	return &Host{opts: opts, parentR: r, parentW: w, running: make(map[string]*running)}, nil
}

// Discover lists the plugins folder with this host's Verifier.
func (h *Host) Discover() ([]Candidate, error) {
	return Discover(h.opts.Dir, h.opts.Verifier)
}

// Transport returns a client for the transport plugin providing name,
// starting the plugin if it is not running (or crashed). The returned
// string names the plugin, for error messages.
func (h *Host) Transport(ctx context.Context, name string) (sdk.TransportClient, string, error) {
	d, file, err := h.find(ctx, sdk.KindTransport, name)
	return d.tc, file, err
}

// Auth returns a client for the auth plugin that provides the login flow
// name (for example "device_code"), starting it if needed, and the
// plugin's file name for messages.
func (h *Host) Auth(ctx context.Context, flow string) (sdk.AuthClient, string, error) {
	d, file, err := h.find(ctx, sdk.KindAuth, flow)
	return d.ac, file, err
}

// find starts, if needed, the plugin of kind that provides name. The plugin
// named after it is tried first; any other plugin of the kind may also
// provide the name through Info.
func (h *Host) find(ctx context.Context, kind sdk.Kind, name string) (dispensed, string, error) {
	// Listed without the integrity check, which hashes the whole file:
	// only the plugin started is checked (in start), not every plugin in
	// the folder at every start.
	cands, err := Discover(h.opts.Dir, nil)
	if err != nil {
		return dispensed{}, "", err
	}
	slices.SortStableFunc(cands, func(a, b Candidate) int {
		return boolRank(b.Name == name) - boolRank(a.Name == name)
	})
	var refusals []string
	for _, c := range cands {
		if c.Kind != kind {
			continue
		}
		if c.Refused != "" {
			if c.Name == name {
				refusals = append(refusals, fmt.Sprintf("%s refused: %s", c.File, c.Refused))
			}
			continue
		}
		d, info, err := h.get(c).started(ctx, h)
		if err != nil {
			refusals = append(refusals, fmt.Sprintf("%s: %v", c.File, err))
			continue
		}
		if slices.Contains(info.Names, name) {
			return d, c.File, nil
		}
	}
	msg := fmt.Sprintf("no %s plugin provides %q in %s", kind, name, h.opts.Dir)
	if len(refusals) > 0 {
		msg += " (" + strings.Join(refusals, "; ") + ")"
	} else {
		msg += "; run `ica-mcp-proxy plugins install`"
	}
	return dispensed{}, "", errors.New(msg)
}

func (h *Host) Info(ctx context.Context, c Candidate) (sdk.Info, error) {
	if c.Refused != "" {
		return sdk.Info{}, errors.New(c.Refused)
	}
	_, info, err := h.get(c).started(ctx, h)
	return info, err
}

func (h *Host) get(c Candidate) *running {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.running[c.Path]
	if !ok {
		r = &running{cand: c}
		h.running[c.Path] = r
	}
	return r
}

// started returns the running plugin's client and Info, starting it first
// if needed: after the pause that follows a crash, if ctx leaves the time.
func (r *running) started(ctx context.Context, h *Host) (dispensed, sdk.Info, error) {
	for {
		r.mu.Lock()
		wait := r.reap(h)
		if wait <= 0 {
			err := r.ensure(ctx, h)
			d, info := r.d, r.info
			r.mu.Unlock()
			return d, info, err
		}
		crashes := r.crashes
		r.mu.Unlock()
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return dispensed{}, sdk.Info{}, &CrashedError{Plugin: r.cand.File, Crashes: crashes, RetryIn: wait}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return dispensed{}, sdk.Info{}, ctx.Err()
		}
	}
}

// reap forgets a plugin process that exited, counting the crash, and
// returns how long the pause before the next start still lasts; r.mu is
// held.
func (r *running) reap(h *Host) time.Duration {
	now := time.Now()
	if r.client != nil && r.client.Exited() {
		if now.Sub(r.since) < healthyAfter {
			r.crashes++
		} else {
			r.crashes = 1
		}
		if r.crashes > 1 {
			r.until = now.Add(min(firstPause<<(r.crashes-2), maxPause))
		}
		h.opts.Logger.Warn("plugin exited; it is started again when needed", "plugin", r.cand.File, "crashes_in_a_row", r.crashes)
		r.d.release()
		r.client, r.d = nil, dispensed{}
	}
	return r.until.Sub(now)
}

// ensure starts the plugin if it is not running; r.mu is held.
func (r *running) ensure(ctx context.Context, h *Host) error {
	if r.client != nil && !r.client.Exited() {
		return nil
	}
	r.d.release()
	r.client, r.d = nil, dispensed{}
	client, info, d, err := h.start(ctx, r.cand)
	if err != nil {
		return err
	}
	r.client, r.info, r.d, r.since = client, info, d, time.Now()
	return nil
}

// start launches a plugin and checks its Info.
func (h *Host) start(ctx context.Context, c Candidate) (*plugin.Client, sdk.Info, dispensed, error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, sdk.Info{}, dispensed{}, errors.New("plugin host is shut down")
	}
	if err := h.opts.Verifier.Check(c.Path); err != nil {
		return nil, sdk.Info{}, dispensed{}, fmt.Errorf("refused: %w", err)
	}
	logger := h.opts.Logger.Named(c.File)
	cmd := exec.Command(c.Path)
	cmd.Env = append(slices.Clone(h.opts.Env),
		sdk.EnvLogLevel+"="+h.opts.Logger.GetLevel().String(),
	)
	passParent(cmd, h.parentR)
	// A transport plugin gets a descriptor channel on fd 4, to hand over
	// the descriptors its sessions' messages travel on (the data plane;
	// see sdk/direct.go). Where none can be made, messages stay on gRPC.
	var d dispensed
	if c.Kind == sdk.KindTransport && !h.opts.StreamOnly {
		ch, pluginEnd, err := sdk.NewFDChannel()
		if err != nil {
			logger.Debug("no descriptor channel; messages travel on gRPC", "error", err)
		} else {
			defer func() { _ = pluginEnd.Close() }() // the plugin's copy is all it needs
			d.ch = ch
			cmd.ExtraFiles = append(cmd.ExtraFiles, pluginEnd)
			cmd.Env = append(cmd.Env, sdk.EnvFDChannel+"=4")
		}
	}
	tlsConfig, tlsEnv, err := connTLS()
	if err != nil {
		d.release()
		return nil, sdk.Info{}, dispensed{}, err
	}
	cmd.Env = append(cmd.Env, tlsEnv...)
	// go-plugin checks the file's sha256 again right before it starts it.
	var secure *plugin.SecureConfig
	if in, ok := h.opts.Verifier.(*Integrity); ok {
		if sum, err := in.Recorded(c.File); err == nil && sum != "" {
			secure = &plugin.SecureConfig{Checksum: checksumOf(sum), Hash: sha256.New()}
		}
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		SecureConfig:     secure,
		HandshakeConfig:  sdk.Handshake,
		Plugins:          sdk.HostPluginSet(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		TLSConfig:        tlsConfig,
		SkipHostEnv:      true,
		Logger:           h.opts.Logger,
		// Whatever a plugin prints on stdout besides the handshake goes
		// to the log: the proxy's stdout carries JSON-RPC only.
		SyncStdout:      logger.StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Info}),
		SyncStderr:      io.Discard,
		StartTimeout:    h.opts.StartTimeout,
		GRPCDialOptions: sdk.HostDialOptions(),
	})
	fail := func(err error) (*plugin.Client, sdk.Info, dispensed, error) {
		client.Kill()
		d.release()
		return nil, sdk.Info{}, dispensed{}, err
	}
	proto, err := client.Client()
	if err != nil {
		return fail(fmt.Errorf("start: %w", err))
	}
	ic, err := sdk.DispenseInfo(proto)
	if err != nil {
		return fail(err)
	}
	ictx, cancel := context.WithTimeout(ctx, h.opts.StartTimeout)
	defer cancel()
	info, err := ic.Info(ictx)
	if err != nil {
		return fail(err)
	}
	if err := checkInfo(c, info); err != nil {
		return fail(fmt.Errorf("refused: %w", err))
	}
	logger.Debug("plugin started", "names", info.Names, "version", info.Version)
	switch info.Kind {
	case sdk.KindTransport:
		d.tc, err = sdk.DispenseTransportOver(proto, d.ch, logger)
	case sdk.KindAuth:
		d.ac, err = sdk.DispenseAuth(proto)
	}
	if err != nil {
		return fail(err)
	}
	return client, info, d, nil
}

// checkInfo refuses a plugin whose Info contradicts its file name. (The
// API version was agreed in the Info call itself.)
func checkInfo(c Candidate, info sdk.Info) error {
	if info.Kind != c.Kind {
		return fmt.Errorf("says it is a %q plugin but is named as a %q one", info.Kind, c.Kind)
	}
	if len(info.Names) == 0 {
		return errors.New("provides no names")
	}
	return nil
}

// Close stops every plugin. Sessions should be closed first, so their
// upstreams shut down gracefully.
func (h *Host) Close() {
	h.mu.Lock()
	h.closed = true
	all := make([]*running, 0, len(h.running))
	for _, r := range h.running {
		all = append(all, r)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range all {
		wg.Go(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.client != nil {
				r.client.Kill()
			}
			r.d.release()
		})
	}
	wg.Wait()
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
