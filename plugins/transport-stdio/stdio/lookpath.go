package stdio

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/pathext"
)

// lookup finds a server's command in the PATH the child is given, the way
// the system's own shell would, except that a command is never taken from
// the folder the server runs in (a cloned repository's) unless named by
// its path.
//
// windows selects the Windows rules (both separators, drive letters,
// extensions from PATHEXT, no execute bit) whatever system this runs on,
// so the Linux tests cover them; hostLookup picks the rules of the system.
type lookup struct {
	windows bool
	// pathext is PATHEXT split and lower-cased (".com", ".exe", ...);
	// used only with windows.
	pathext []string
}

// windowsLookup has Windows' rules with PATHEXT's value exts.
func windowsLookup(exts string) lookup {
	return lookup{windows: true, pathext: pathext.Split(exts)}
}

func unixLookup() lookup { return lookup{} }

// envValue reads a variable from the child's environment: by exact name
// on unix, any case on Windows (where Path and PATH are one variable).
func (l lookup) envValue(env map[string]string, key string) (string, bool) {
	if v, ok := env[key]; ok || !l.windows {
		return v, ok
	}
	for k, v := range env {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func (l lookup) isPath(command string) bool {
	if l.windows {
		return strings.ContainsAny(command, `/\:`)
	}
	return strings.ContainsRune(command, '/')
}

// find returns the path of command for a child with PATH pathEnv that runs
// in cwd.
func (l lookup) find(command, pathEnv, cwd string) (string, error) {
	if l.isPath(command) {
		p := command
		if !filepath.IsAbs(p) && cwd != "" {
			p = filepath.Join(cwd, p)
		}
		f, err := l.executable(p)
		if err != nil {
			return "", fmt.Errorf("command %q: %w", command, err)
		}
		return f, nil
	}
	sep := ":"
	if l.windows {
		sep = ";"
	}
	for _, dir := range strings.Split(pathEnv, sep) {
		if l.windows {
			dir = strings.Trim(dir, `"`) // Windows allows quoted entries
		}
		if filepath.IsAbs(dir) {
			if f, err := l.executable(filepath.Join(dir, command)); err == nil {
				return f, nil
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
		if f, err := l.executable(filepath.Join(cwd, rel, command)); err == nil {
			return "", fmt.Errorf("command %q would be found through the relative PATH entry %q (%s); ica-mcp-proxy does not run a command found that way: name it by an absolute path or make PATH absolute: %w",
				command, dir, f, exec.ErrDot)
		}
	}
	if l.windows {
		// Windows' own search looks in the current folder first; this
		// one never does, and says so when that is where the command is.
		if f, err := l.executable(filepath.Join(cwd, command)); err == nil {
			return "", fmt.Errorf("command %q is in the server's folder (%s) but not in PATH; ica-mcp-proxy does not run a command from the current folder unless named by its path (\".\\%s\"): %w",
				command, f, command, exec.ErrDot)
		}
	}
	return "", fmt.Errorf("command %q not found in PATH %q", command, pathEnv)
}

// executable returns the file p names, on Windows trying it as is when it
// has an extension, then with each PATHEXT extension, as Windows does.
func (l lookup) executable(p string) (string, error) {
	if !l.windows {
		return p, checkExecutable(p, false)
	}
	if ext := strings.ToLower(filepath.Ext(p)); ext != "" && !strings.ContainsAny(ext, `/\`) {
		if err := checkExecutable(p, true); err == nil {
			return p, nil
		}
	}
	for _, ext := range l.pathext {
		if f := p + ext; checkExecutable(f, true) == nil {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s: no such file with any extension of PATHEXT (%s): %w", p, strings.Join(l.pathext, ";"), os.ErrNotExist)
}

// checkExecutable checks that p is a file that can be run; on Windows
// there is no execute bit: the extension decides (see windowsStart).
func checkExecutable(p string, windows bool) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	if !windows && fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}
