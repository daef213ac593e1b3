package register

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/atomicfile"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
)

// Env var names the entry may set.
const (
	envSeparator = settings.EnvSeparator
	envNameMax   = settings.EnvToolNameMax
	envListWait  = settings.EnvListWait
	envMaxTools  = settings.EnvMaxTotalTools
	envHome      = "ICA_HOME"
)

// EntryFor is the entry for client c running the binary at command, named
// name. It sets the separator, the name budget, the list wait and the
// tool count the client needs.
// ICA_HOME is passed on when it is set, so the runtime's proxy uses the
// same home as the shell that registered it.
func EntryFor(c Client, name, command string, getenv func(string) string) Entry {
	e := Entry{Name: name, Command: command, Env: map[string]string{}}
	if c.Separator != "." {
		e.Env[envSeparator] = c.Separator
	}
	if n, _ := c.Budget(name); n != settings.DefaultToolNameMax {
		e.Env[envNameMax] = strconv.Itoa(n)
	}
	if c.MaxTools > 0 {
		e.Env[envMaxTools] = strconv.Itoa(c.MaxTools)
	}
	if c.ListWait > 0 {
		e.Env[envListWait] = strconv.FormatFloat(c.ListWait.Seconds(), 'f', -1, 64)
	}
	if h := getenv(envHome); h != "" {
		if abs, err := filepath.Abs(h); err == nil {
			e.Env[envHome] = abs
		}
	}
	return e
}

// State is what a client's config holds for the entry.
type State string

const (
	// NoConfig: the config file does not exist.
	NoConfig State = "no_config"
	// Missing: the file exists without the entry.
	Missing State = "not_registered"
	// Outdated: the entry exists but differs (another binary, a missing
	// variable).
	Outdated State = "outdated"
	// Current: the entry is as register would write it.
	Current State = "registered"
)

// Plan is what registering in one client's config would do.
type Plan struct {
	Client Client
	// Path is the config file.
	Path string
	// Entry is what is registered.
	Entry Entry
	// State is the file's state now.
	State State
	// Registered is the command of the existing entry, if any.
	Registered string
	// RegisteredEnv is the environment the existing entry gives the
	// proxy: the separator and name budget the runtime's proxy runs with.
	RegisteredEnv map[string]string
	// Differs names what an Outdated entry lacks or has otherwise:
	// "command", "env.ICA_HOME".
	Differs []string

	before, after []byte
}

// Prepare reads the client's config at path and works out the merge.
// Nothing is written.
func Prepare(c Client, path string, e Entry) (*Plan, error) {
	p := &Plan{Client: c, Path: path, Entry: e}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.State = NoConfig
		data = nil
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	p.before = data
	p.Registered = registeredCommand(c, data, e.Name)
	p.RegisteredEnv = registeredEnv(c, data, e.Name)
	after, changed, err := c.merge(path, data, e)
	if err != nil {
		return nil, err
	}
	p.after = after
	switch {
	case p.State == NoConfig:
	case !changed:
		p.State = Current
	case p.Registered != "" || hasEntry(c, data, e.Name):
		p.State = Outdated
		p.Differs = differences(entryOf(c, data, e.Name), entryOf(c, after, e.Name), "")
	default:
		p.State = Missing
	}
	return p, nil
}

func (c Client) merge(path string, data []byte, e Entry) ([]byte, bool, error) {
	if c.Format == TOML {
		return mergeTOML(path, data, c.Container, e.Name, c.shape(e))
	}
	return mergeJSON(path, data, c.skeleton, c.Container, e.Name, c.shape(e))
}

// Snippet is the entry alone, as a file holding only it.
func (c Client) Snippet(e Entry) string {
	out, _, err := c.merge("snippet", nil, e)
	if err != nil {
		return err.Error()
	}
	return string(out)
}

// NeedsWrite says whether Write would change the file.
func (p *Plan) NeedsWrite() bool { return p.State != Current }

// Write merges the entry into the file. An existing file is copied first
// to a backup beside it (whose path is returned) and keeps its mode; a new
// file is created 0600. A config file that is a symlink (a dotfiles
// checkout) is written through: the link stays. Writing when nothing
// would change does nothing.
func (p *Plan) Write(now time.Time) (backup string, err error) {
	if !p.NeedsWrite() {
		return "", nil
	}
	target := p.Path
	mode := fs.FileMode(0o600)
	if p.State != NoConfig {
		if target, err = filepath.EvalSymlinks(p.Path); err != nil {
			return "", fmt.Errorf("resolve %s: %w", p.Path, err)
		}
		fi, err := os.Stat(target)
		if err != nil {
			return "", err
		}
		mode = fi.Mode().Perm()
		// Another program may have changed the file since it was read.
		cur, err := os.ReadFile(target)
		if err != nil {
			return "", err
		}
		if !bytes.Equal(cur, p.before) {
			return "", fmt.Errorf("%s changed while it was being merged; run the command again", p.Path)
		}
		backup = target + ".bak-" + now.UTC().Format("20060102T150405Z")
		if err := atomicfile.Write(backup, cur, mode); err != nil {
			return "", fmt.Errorf("back up %s: %w", p.Path, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(target), err)
	}
	if err := atomicfile.Write(target, p.after, mode); err != nil {
		return backup, err
	}
	return backup, nil
}

// differences lists the keys whose values differ between two entries,
// going into nested objects (env).
func differences(old, cur map[string]any, prefix string) []string {
	var out []string
	for _, k := range sortedKeys(cur) {
		o, n := old[k], cur[k]
		om, oOK := o.(map[string]any)
		nm, nOK := n.(map[string]any)
		switch {
		case oOK && nOK:
			out = append(out, differences(om, nm, prefix+k+".")...)
		case !reflect.DeepEqual(o, n):
			out = append(out, prefix+k)
		}
	}
	return out
}
