package stdio

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

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
	path, err := lookPath(spec.Command, spec.Env["PATH"], spec.Cwd)
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

// lookPath finds command the way a shell would, but in the PATH the child
// is given rather than this plugin's own.
func lookPath(command, pathEnv, cwd string) (string, error) {
	if strings.ContainsRune(command, '/') {
		p := command
		if !filepath.IsAbs(p) && cwd != "" {
			p = filepath.Join(cwd, p)
		}
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("command %q: %w", command, err)
		}
		return p, nil
	}
	if pathEnv == "" {
		pathEnv = os.Getenv("PATH")
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if filepath.IsAbs(dir) {
			if p := filepath.Join(dir, command); checkExecutable(p) == nil {
				return p, nil
			}
			continue
		}
		// A relative entry ("", ".", "node_modules/.bin") finds commands
		// in the folder the server runs in, which may be a cloned
		// repository's: refused, as exec.LookPath refuses with ErrDot.
		rel := dir
		if rel == "" {
			rel = "."
		}
		if checkExecutable(filepath.Join(cwd, rel, command)) == nil {
			return "", fmt.Errorf("command %q would be found through the relative PATH entry %q (%s); ica-mcp-proxy does not run a command found that way: name it by an absolute path or make PATH absolute: %w",
				command, dir, filepath.Join(cwd, rel, command), exec.ErrDot)
		}
	}
	return "", fmt.Errorf("command %q not found in PATH %q", command, pathEnv)
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}
