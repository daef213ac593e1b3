package stdio

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/windows"
)

// hostLookup is Windows' command search: PATHEXT from the child's
// environment, or this process's.
func hostLookup(env map[string]string) lookup {
	l := windowsLookup("")
	ext, ok := l.envValue(env, "PATHEXT")
	if !ok {
		ext = os.Getenv("PATHEXT")
	}
	return windowsLookup(ext)
}

// prepareCommand makes cmd start the file at cmd.Path as Windows would:
// directly, or a batch file through cmd.exe with a command line built by
// batchCommandLine (see batch.go); neither it nor what it starts looks
// for programs in the current folder (noCurrentDirSearch).
func prepareCommand(cmd *exec.Cmd) error {
	cmd.Env = noCurrentDirSearch(cmd.Env)
	runner, err := runnerFor(cmd.Path)
	if err != nil || runner == runDirect {
		return err
	}
	// cmd.exe from the system folder, not from %ComSpec% or PATH, which
	// the environment (or a repository's .env) could point elsewhere.
	sys, err := windows.GetSystemDirectory()
	if err != nil {
		return fmt.Errorf("find cmd.exe to run %s: %w", cmd.Path, err)
	}
	cmdExe := filepath.Join(sys, "cmd.exe")
	line, err := batchCommandLine(cmdExe, cmd.Path, cmd.Args[1:])
	if err != nil {
		return err
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.CmdLine = line
	cmd.Path = cmdExe
	return nil
}
