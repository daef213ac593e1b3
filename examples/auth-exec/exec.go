package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Flow is the flow name servers choose with "oauth": {"flow": "exec"}.
const Flow = "exec"

// Defaults for options the entry leaves out.
const (
	defaultTTL     = 5 * time.Minute
	defaultTimeout = 30 * time.Second
)

// Exec runs the configured command and uses the first line it prints as
// the access token. It needs no authorization server and no OAuth client,
// and no user: every token is minted at once, and minted again (by running
// the command) when it is about to expire or the server refuses it.
type Exec struct {
	// Version is the plugin's own version.
	Version string
}

// Options are the entry's "oauth"."options".
type Options struct {
	// Command is the program and its arguments; it runs without a shell.
	Command []string `json:"command"`
	// TTLSeconds is how long a token is used before the command runs
	// again; the server's 401 also makes it run again. Default 300.
	TTLSeconds *float64 `json:"ttl_s"`
}

// Info implements sdk.Auth.
func (e *Exec) Info() sdk.Info {
	return sdk.Info{Names: []string{Flow}, Version: e.Version, Description: "bearer token printed by a command (gcloud auth print-access-token and the like)"}
}

// Needs implements sdk.AuthNeeds: neither an authorization server nor a
// client, so the proxy discovers and registers nothing.
func (e *Exec) Needs(string) sdk.FlowNeeds { return sdk.FlowNeeds{} }

// Begin implements sdk.Auth: the token comes at once.
func (e *Exec) Begin(ctx context.Context, g sdk.Grant) (sdk.Started, error) {
	t, err := e.mint(ctx, g)
	if err != nil {
		return sdk.Started{}, err
	}
	return sdk.Started{Token: &t, Message: "token obtained from the command"}, nil
}

// Await implements sdk.Auth; Begin never leaves a flow to wait for.
func (e *Exec) Await(context.Context, string) (sdk.Token, error) {
	return sdk.Token{}, errors.New("the exec flow has nothing to wait for")
}

// Refresh implements sdk.Auth by running the command again.
func (e *Exec) Refresh(ctx context.Context, g sdk.Grant, _ string) (sdk.Token, error) {
	return e.mint(ctx, g)
}

func parseOptions(raw []byte) (Options, error) {
	var o Options
	if len(raw) == 0 {
		return o, errors.New(`the exec flow needs "options": {"command": ["program", "arg", ...]} in the server's "oauth" settings`)
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return o, fmt.Errorf(`exec options: %w (want {"command": ["program", "arg", ...], "ttl_s": 300})`, err)
	}
	if len(o.Command) == 0 || o.Command[0] == "" {
		return o, errors.New(`exec options: "command" must name a program: ["program", "arg", ...]`)
	}
	return o, nil
}

// mint runs the command and turns its output into a token. The output is
// never put in an error: it may be the token.
func (e *Exec) mint(ctx context.Context, g sdk.Grant) (sdk.Token, error) {
	o, err := parseOptions(g.Options)
	if err != nil {
		return sdk.Token{}, err
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.Command[0], o.Command[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A child the command left behind may hold the pipes open: stop
	// waiting for them a second after the command ends.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return sdk.Token{}, fmt.Errorf("%s did not finish within %s", o.Command[0], timeout)
		}
		return sdk.Token{}, fmt.Errorf("%s failed (%v): %s", o.Command[0], err, lastLine(stderr.String()))
	}
	token, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), "\n")
	token = strings.TrimSpace(token)
	if token == "" {
		return sdk.Token{}, fmt.Errorf("%s printed no token", o.Command[0])
	}
	ttl := defaultTTL
	if o.TTLSeconds != nil {
		ttl = time.Duration(*o.TTLSeconds * float64(time.Second))
	}
	t := sdk.Token{AccessToken: token, TokenType: "Bearer"}
	if ttl > 0 {
		t.Expiry = time.Now().Add(ttl)
	}
	return t, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return "no error output"
}
