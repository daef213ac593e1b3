package stdio

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Transport starts stdio sessions.
type Transport struct {
	version string
}

// New returns the stdio transport; version is reported by Info.
func New(version string) *Transport {
	return &Transport{version: version}
}

// Info implements sdk.Transport.
func (t *Transport) Info() sdk.Info {
	return sdk.Info{
		Names:       []string{"stdio"},
		Version:     t.version,
		Description: "runs upstream MCP servers as child processes (JSON-RPC over stdin/stdout)",
	}
}

// Open implements sdk.Transport: it starts the child and returns once it
// runs.
func (t *Transport) Open(_ context.Context, spec sdk.SessionSpec, peer sdk.Peer) (sdk.Session, error) {
	s, err := t.open(spec, peer, false)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return s, nil
}

// OpenPipe implements sdk.PipeTransport: the host gets the child's stdin
// and stdout, and the messages no longer cross this process.
func (t *Transport) OpenPipe(_ context.Context, spec sdk.SessionSpec, peer sdk.Peer) (sdk.Session, *os.File, *os.File, error) {
	s, err := t.open(spec, peer, true)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, s.stdin, s.stdout, nil
}

func (t *Transport) open(spec sdk.SessionSpec, peer sdk.Peer, piped bool) (*session, error) {
	if spec.Command == "" {
		return nil, fmt.Errorf("server %q has no command", spec.Server)
	}
	look := hostLookup(spec.Env)
	pathEnv, _ := look.envValue(spec.Env, "PATH")
	if pathEnv == "" {
		pathEnv = os.Getenv("PATH")
	}
	path, err := look.find(spec.Command, pathEnv, spec.Cwd)
	if err != nil {
		return nil, err
	}
	if spec.Cwd != "" {
		if fi, err := os.Stat(spec.Cwd); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("working directory %q is not a directory", spec.Cwd)
		}
	}

	cmd := &exec.Cmd{
		Path: path,
		Args: append([]string{spec.Command}, spec.Args...),
		Env:  envList(spec.Env),
		Dir:  spec.Cwd,
	}
	if err := prepareCommand(cmd); err != nil {
		return nil, fmt.Errorf("server %q: %w", spec.Server, err)
	}
	return start(cmd, spec.Server, peer, piped)
}

// envList turns the environment map into the form exec wants. It is never
// nil: a nil Env would make the child inherit this plugin's environment.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
