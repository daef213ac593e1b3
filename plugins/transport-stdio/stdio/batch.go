package stdio

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// How a file found on Windows is started. CreateProcess runs .exe and .com
// files itself; a .bat or .cmd file it hands to cmd.exe with the command
// line as given, and cmd.exe parses that line by its own rules: "&", "|",
// "%VAR%" and quotes mean something there. Arguments quoted for ordinary
// programs (as os/exec quotes them) can then run other commands
// ("BatBadBut", CVE-2024-24576). So the proxy builds cmd.exe's command
// line itself, and refuses what it cannot quote safely.
type windowsRunner int

const (
	runDirect windowsRunner = iota // .exe, .com
	runBatch                       // .bat, .cmd, through cmd.exe
)

// runnerFor says how path is started, or why it cannot be.
func runnerFor(path string) (windowsRunner, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".exe", ".com":
		return runDirect, nil
	case ".bat", ".cmd":
		return runBatch, nil
	default:
		return 0, fmt.Errorf("%s: Windows cannot start a %q file itself; name the program that runs it as the command (node, python, powershell...) and the file as its argument", path, ext)
	}
}

// bestFit are characters that Windows' "best fit" conversion to an ANSI
// code page turns into ones batchCommandLine refuses or quotes with: a
// program the batch file starts that reads its command line that way would
// see the quoting end where cmd.exe saw none (the "WorstFit" class).
var bestFit = map[rune]byte{
	'\uff02': '"', '\u02ba': '"', '\u02dd': '"', '\u02ee': '"', '\u2033': '"', '\u201c': '"', '\u201d': '"', '\u201e': '"',
	'\uff05': '%', '\uff01': '!', '\uff3c': '\\', '\u00a5': '\\', '\u20a9': '\\',
}

// errBatchArgument marks what batchCommandLine refuses.
var errBatchArgument = errors.New("cannot be passed to a batch file safely")

// batchCommandLine is the whole command line for cmd.exe (at cmdExe) to
// run the batch file script with args:
//
//	"C:\Windows\system32\cmd.exe" /d /s /e:on /v:off /c ""script" "arg1" "arg2""
//
// /d skips AutoRun commands from the registry, /v:off keeps "!" literal,
// /s strips just the outer pair of quotes. Every argument is quoted, so
// "&", "|", "<", ">", "^", "(" and ")" stay literal for cmd.exe and again
// when the batch file passes %* on; trailing backslashes are doubled so
// the program it starts reads the closing quote as one (the rules of
// CommandLineToArgvW). What has no safe spelling in cmd.exe is refused:
// a double quote (it would end the quoting), "%" (expanded even inside
// quotes), "!" (expanded where the batch file turns delayed expansion
// on), and line breaks or NUL (they end the command).
func batchCommandLine(cmdExe, script string, args []string) (string, error) {
	if bad := strings.IndexAny(script, "\"%!\r\n\x00"); bad >= 0 {
		return "", fmt.Errorf("batch file path %q: the character %q %w", script, script[bad], errBatchArgument)
	}
	var b strings.Builder
	b.WriteString(`"` + cmdExe + `" /d /s /e:on /v:off /c ""`)
	b.WriteString(script)
	b.WriteByte('"')
	for i, a := range args {
		if bad := strings.IndexAny(a, "\"%!\r\n\x00"); bad >= 0 {
			return "", fmt.Errorf("argument %d (%q) to %s: the character %q %w; run the program the batch file starts (node, python...) directly with its arguments instead",
				i+1, a, filepath.Base(script), a[bad], errBatchArgument)
		}
		if bad := strings.IndexFunc(a, func(r rune) bool { return bestFit[r] != 0 }); bad >= 0 {
			r, _ := utf8.DecodeRuneInString(a[bad:])
			return "", fmt.Errorf("argument %d (%q) to %s: %q, which a program reading its command line in an ANSI code page may take for %q, %w",
				i+1, a, filepath.Base(script), r, bestFit[r], errBatchArgument)
		}
		b.WriteString(` "`)
		b.WriteString(a)
		// Backslashes before the closing quote: doubled, so the quote
		// closes the argument for the program the batch file starts.
		for j := len(a) - 1; j >= 0 && a[j] == '\\'; j-- {
			b.WriteByte('\\')
		}
		b.WriteByte('"')
	}
	b.WriteByte('"')
	// cmd.exe reads at most 8191 characters of a command line.
	if b.Len() > 8191 {
		return "", fmt.Errorf("the command line for %s is %d characters long; cmd.exe takes at most 8191", filepath.Base(script), b.Len())
	}
	return b.String(), nil
}

// noCurrentDirSearch is env with NoDefaultCurrentDirectoryInExePath set:
// cmd.exe (running a batch file) and CreateProcess (a program starting a
// bare "node") then skip the folder the server runs in, a cloned
// repository's, which Windows would otherwise search before PATH.
func noCurrentDirSearch(env []string) []string {
	const key = "NoDefaultCurrentDirectoryInExePath"
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); strings.EqualFold(k, key) {
			return env
		}
	}
	return append(env, key+"=1")
}
