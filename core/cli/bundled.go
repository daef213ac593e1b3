package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/pluginhost"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
)

// selfExecutable is the path of this executable, symlinks resolved: the
// file the bundled plugins are links to.
func selfExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return exe, nil
}

// ensureBundled installs the bundled plugins into $ICA_HOME/plugins when
// any is missing or is another version of the proxy than this one, so
// that `go install …@latest` is the whole install and an upgrade takes
// effect on the next start. A plugin that is a hard link to this
// executable is current at no cost; another file is this version when
// the sha256 recorded for it at install is this executable's (a copy, on
// a filesystem without links). A plugin changed since it was installed is
// left for the integrity check to refuse. It says what it did in one line
// on stderr, and a failure (a read-only home) is said and not fatal.
func ensureBundled(bundled []string) {
	if len(bundled) == 0 {
		return
	}
	s, _ := settings.Load(os.Getenv)
	dir := PluginsDir(s)
	exe, err := selfExecutable()
	if err != nil {
		return
	}
	self, err := os.Stat(exe)
	if err != nil {
		return
	}
	integrity := pluginhost.NewIntegrity(dir, filepath.Join(s.Home, pluginhost.LockFileName))
	// This executable's sha256, computed once and only when needed.
	selfSum := ""
	sum := func() (string, error) {
		if selfSum != "" {
			return selfSum, nil
		}
		var err error
		selfSum, err = pluginhost.FileSHA256(exe)
		return selfSum, err
	}
	var stale []string
	for _, name := range bundled {
		fi, err := os.Stat(filepath.Join(dir, name))
		switch {
		case err != nil:
			stale = append(stale, name)
			continue
		case os.SameFile(self, fi):
			continue
		}
		current, err := sum()
		if err != nil {
			return
		}
		if recorded, _ := integrity.Recorded(name); recorded != current {
			stale = append(stale, name)
		}
	}
	if len(stale) == 0 {
		return
	}
	if _, err := sum(); err != nil {
		fmt.Fprintf(os.Stderr, "ica-mcp-proxy: could not install the bundled plugins: %v\n", err)
		return
	}
	linked := true
	for _, name := range stale {
		l, err := installSelfAs(integrity, exe, dir, name, selfSum)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ica-mcp-proxy: could not install the bundled plugins: %v\n", err)
			return
		}
		linked = linked && l
	}
	how := "hard links to"
	if !linked {
		how = "copies of"
	}
	fmt.Fprintf(os.Stderr, "ica-mcp-proxy: installed the bundled plugins %s into %s (%s %s)\n", strings.Join(stale, ", "), dir, how, exe)
}
