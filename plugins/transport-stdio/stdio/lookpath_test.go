package stdio

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A command is never found through a relative PATH entry, which would
// find it in the folder the server runs in (a cloned repository's): the
// lookup refuses as exec.LookPath does with ErrDot, naming the entry.
func TestLookPathRefusesRelativeEntries(t *testing.T) {
	project := t.TempDir()
	bin := t.TempDir()
	for _, dir := range []string{project, filepath.Join(project, "node_modules", ".bin"), bin} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{".", ":" + bin, "node_modules/.bin:" + bin, "." + string(filepath.ListSeparator) + bin} {
		_, err := unixLookup().find("tool", path, project)
		if !errors.Is(err, exec.ErrDot) {
			t.Errorf("PATH %q: %v, want ErrDot", path, err)
		}
	}
	if got, err := unixLookup().find("tool", bin+":.", project); err != nil || got != filepath.Join(bin, "tool") {
		t.Errorf("an absolute entry first: %q, %v", got, err)
	}
	if got, err := unixLookup().find("./tool", bin, project); err != nil || got != filepath.Join(project, "tool") {
		t.Errorf("a command named by its path: %q, %v", got, err)
	}
}

// Windows' rules, run here with a fixture PATHEXT: "npx" finds npx.cmd as
// the runtimes' users write it, an extension given is tried as is first,
// PATHEXT's order decides, its upper-case extensions find lower-case
// files, and
// neither the current folder nor a relative entry is searched.
func TestWindowsLookup(t *testing.T) {
	project := t.TempDir()
	bin := t.TempDir()
	other := t.TempDir()
	for dir, files := range map[string][]string{
		bin:     {"npx.cmd", "npx.ps1", "node.exe", "tool.bat", "tool.exe", "data.json"},
		other:   {"npx.exe"},
		project: {"evil.cmd", "npx.exe"},
	} {
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil { // no execute bit: Windows has none
				t.Fatal(err)
			}
		}
	}
	l := windowsLookup(".COM;.EXE;.BAT;.CMD")
	path := bin + ";" + other
	for _, c := range []struct{ command, want string }{
		{"npx", filepath.Join(bin, "npx.cmd")},         // the first entry wins over other's npx.exe
		{"node", filepath.Join(bin, "node.exe")},       // .exe
		{"tool", filepath.Join(bin, "tool.exe")},       // PATHEXT order: .EXE before .BAT
		{"tool.bat", filepath.Join(bin, "tool.bat")},   // an extension given is tried as is
		{"node.exe", filepath.Join(bin, "node.exe")},   // named with its extension
		{"npx.ps1", filepath.Join(bin, "npx.ps1")},     // found; runnerFor refuses to start it
		{`.\evil`, filepath.Join(project, "evil.cmd")}, // named by its path: the user chose it
	} {
		if strings.HasPrefix(c.command, `.\`) {
			c.command = "./evil" // the Linux file system has no backslash separator
		}
		got, err := l.find(c.command, path, project)
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.command, got, err, c.want)
		}
	}
	// In the folder the server runs in, but not in PATH: refused.
	if _, err := l.find("evil", path, project); !errors.Is(err, exec.ErrDot) || !strings.Contains(err.Error(), "not in PATH") {
		t.Errorf("a command only in the current folder: %v, want ErrDot", err)
	}
	// A relative entry: refused, as on unix.
	if _, err := l.find("npx", ".;"+path, project); !errors.Is(err, exec.ErrDot) {
		t.Errorf("a relative entry: %v, want ErrDot", err)
	}
	// Quoted entries are read as Windows reads them.
	if got, err := l.find("node", `"`+bin+`"`, project); err != nil || got != filepath.Join(bin, "node.exe") {
		t.Errorf("a quoted entry: %q, %v", got, err)
	}
	if _, err := l.find("data", path, project); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("data.json is not a command: %v", err)
	}
	// Without PATHEXT, Windows' default list.
	if got, err := windowsLookup("").find("npx", path, project); err != nil || got != filepath.Join(bin, "npx.cmd") {
		t.Errorf("default PATHEXT: %q, %v", got, err)
	}
	// The child's Path, in any case, is its PATH.
	if v, ok := l.envValue(map[string]string{"Path": path}, "PATH"); !ok || v != path {
		t.Errorf("envValue(Path) = %q, %v", v, ok)
	}
	if _, ok := unixLookup().envValue(map[string]string{"Path": path}, "PATH"); ok {
		t.Error("unix variable names are case-sensitive")
	}
}

func TestRunnerFor(t *testing.T) {
	for path, want := range map[string]windowsRunner{`C:\x\node.exe`: runDirect, `C:\x\A.COM`: runDirect, `C:\x\npx.cmd`: runBatch, `C:\x\run.BAT`: runBatch} {
		if got, err := runnerFor(path); err != nil || got != want {
			t.Errorf("%s: %v, %v", path, got, err)
		}
	}
	for _, path := range []string{`C:\x\npx.ps1`, `C:\x\server.js`, `C:\x\noext`} {
		if _, err := runnerFor(path); err == nil || !strings.Contains(err.Error(), "name the program") {
			t.Errorf("%s: %v, want a refusal naming what to do", path, err)
		}
	}
}

// What cmd.exe is given for a batch file: every argument quoted, so that
// its metacharacters stay literal, trailing backslashes doubled, and what
// has no safe spelling refused (the BatBadBut class, CVE-2024-24576).
func TestBatchCommandLine(t *testing.T) {
	const cmdExe = `C:\Windows\system32\cmd.exe`
	const script = `C:\Program Files\nodejs\npx.cmd`
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, `"C:\Windows\system32\cmd.exe" /d /s /e:on /v:off /c ""C:\Program Files\nodejs\npx.cmd""`},
		{[]string{"-y", "@modelcontextprotocol/server-filesystem", `C:\Users\me\My Project`},
			`"C:\Windows\system32\cmd.exe" /d /s /e:on /v:off /c ""C:\Program Files\nodejs\npx.cmd" "-y" "@modelcontextprotocol/server-filesystem" "C:\Users\me\My Project""`},
		{[]string{"a&calc.exe", "x|y", "<in", ">out", "^", "(a)", ""},
			`"C:\Windows\system32\cmd.exe" /d /s /e:on /v:off /c ""C:\Program Files\nodejs\npx.cmd" "a&calc.exe" "x|y" "<in" ">out" "^" "(a)" """`},
		{[]string{`C:\dir\`, `\\`}, `"C:\Windows\system32\cmd.exe" /d /s /e:on /v:off /c ""C:\Program Files\nodejs\npx.cmd" "C:\dir\\" "\\\\""`},
	} {
		got, err := batchCommandLine(cmdExe, script, c.args)
		if err != nil || got != c.want {
			t.Errorf("%q:\n got %s (%v)\nwant %s", c.args, got, err, c.want)
		}
	}
	for _, arg := range []string{`"&calc.exe`, `a" & calc & "`, "%PATH%", "100%", "!x!", "a\nb", "a\rb", "a\x00b",
		"x\uff02 --evil \uff02", "\uff05PATH\uff05", "C:\\dir\u00a5"} {
		_, err := batchCommandLine(cmdExe, script, []string{"ok", arg})
		if !errors.Is(err, errBatchArgument) || !strings.Contains(err.Error(), "argument 2") {
			t.Errorf("%q: %v, want a refusal naming argument 2", arg, err)
		}
	}
	if _, err := batchCommandLine(cmdExe, `C:\a%b%\x.cmd`, nil); !errors.Is(err, errBatchArgument) {
		t.Errorf("a script path with %%: %v", err)
	}
	if _, err := batchCommandLine(cmdExe, script, []string{strings.Repeat("a", 8200)}); err == nil || !strings.Contains(err.Error(), "8191") {
		t.Errorf("an over-long line: %v", err)
	}
}

// A Windows upstream, and a batch file's cmd.exe, never search the folder
// they run in for a bare "node": the variable that says so is set, once.
func TestNoCurrentDirSearch(t *testing.T) {
	env := noCurrentDirSearch([]string{"PATH=C:\\bin"})
	if !slices.Contains(env, "NoDefaultCurrentDirectoryInExePath=1") {
		t.Fatalf("not set: %q", env)
	}
	if again := noCurrentDirSearch(env); len(again) != len(env) {
		t.Fatalf("set twice: %q", again)
	}
	if kept := noCurrentDirSearch([]string{"nodefaultcurrentdirectoryinexepath=yes"}); len(kept) != 1 {
		t.Fatalf("a value given by the config was changed: %q", kept)
	}
}
