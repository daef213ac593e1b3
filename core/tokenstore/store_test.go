package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestRoundTripAndModes(t *testing.T) {
	home := filepath.Join(t.TempDir(), "ica")
	s := New(home)
	if _, ok, err := s.Get(ctx(t), "x"); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	tok := Token{Issuer: "https://as.example", Resource: "https://mcp.example/mcp", AccessToken: "at-secret", RefreshToken: "rt-secret",
		Expiry: time.Now().Add(time.Hour).UTC().Truncate(time.Second), Scopes: []string{"read"}}
	if err := s.Put(ctx(t), "docs", tok); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRegistration(ctx(t), tok.Issuer, Registration{ClientID: "c1", ClientSecret: "cs-secret"}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := New(home).Get(ctx(t), "docs")
	if err != nil || !ok || got.AccessToken != "at-secret" || got.RefreshToken != "rt-secret" || !got.Expiry.Equal(tok.Expiry) || got.UpdatedAt.IsZero() {
		t.Fatalf("got %#v %v %v", got, ok, err)
	}
	if r, ok, _ := s.Registration(ctx(t), tok.Issuer); !ok || r.ClientID != "c1" {
		t.Fatalf("registration %v", r)
	}
	for path, want := range map[string]os.FileMode{home: 0o700, s.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v, want %v (%v)", path, fi.Mode().Perm(), want, err)
		}
	}
	data, _ := os.ReadFile(s.Path())
	if !strings.Contains(string(data), `"version": 1`) {
		t.Fatalf("no version field: %s", data)
	}
	if had, err := s.Delete(ctx(t), "docs"); !had || err != nil {
		t.Fatalf("delete: %v %v", had, err)
	}
	if names, _ := s.Servers(ctx(t)); len(names) != 0 {
		t.Fatalf("after delete: %v", names)
	}
}

func TestSecretsStayOutOfText(t *testing.T) {
	tok := Token{Issuer: "i", Resource: "r", AccessToken: "at-secret", RefreshToken: "rt-secret"}
	reg := Registration{ClientID: "c", ClientSecret: "cs-secret"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{tok, reg, &tok, []Token{tok}} {
			if s := fmt.Sprintf(f, v); strings.Contains(s, "at-secret") || strings.Contains(s, "rt-secret") || strings.Contains(s, "cs-secret") {
				t.Errorf("%s of %T shows a secret: %s", f, v, s)
			}
		}
	}
}

func TestRefusesWhatItCannotTrust(t *testing.T) {
	home := t.TempDir()
	s := New(home)
	if err := s.Put(ctx(t), "a", Token{AccessToken: "x"}); err != nil {
		t.Fatal(err)
	}
	// Readable by others: refused, and left as it is.
	if err := os.Chmod(s.Path(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx(t), "a"); !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable file: %v", err)
	}
	if err := s.Put(ctx(t), "b", Token{}); !errors.Is(err, ErrInsecure) {
		t.Fatalf("writing over a world-readable file: %v", err)
	}
	_ = os.Chmod(s.Path(), 0o600)

	// Not JSON: refused, never overwritten.
	if err := os.WriteFile(s.Path(), []byte("{half a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx(t), "b", Token{}); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("a corrupt file: %v", err)
	}
	if data, _ := os.ReadFile(s.Path()); string(data) != "{half a file" {
		t.Fatalf("the corrupt file was overwritten: %q", data)
	}

	// A newer format: refused.
	if err := os.WriteFile(s.Path(), []byte(`{"version": 9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx(t), "a"); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("a newer format: %v", err)
	}

	// A folder others can write to.
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(open, 0o777)
	if err := New(open).Put(ctx(t), "a", Token{}); !errors.Is(err, ErrInsecure) {
		t.Fatalf("a world-writable folder: %v", err)
	}
}

func TestUpdateErrorChangesNothing(t *testing.T) {
	s := New(t.TempDir())
	if err := s.Put(ctx(t), "a", Token{AccessToken: "old"}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("refresh failed")
	err := s.Update(ctx(t), "a", func(cur Token, ok bool) (Token, bool, error) {
		return Token{AccessToken: "new"}, true, boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got, _, _ := s.Get(ctx(t), "a"); got.AccessToken != "old" {
		t.Fatalf("a failed update changed the token: %v", got.AccessToken)
	}
}

// Processes refreshing at once each spend a single-use refresh token only
// once: the lock is held from the read to the write.
func TestRefreshAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: not in -short mode")
	}
	if os.Getenv("TOKENSTORE_HELPER") != "" {
		return
	}
	home := t.TempDir()
	s := New(home)
	if err := s.Put(ctx(t), "srv", Token{AccessToken: "at-0", RefreshToken: "rt-0"}); err != nil {
		t.Fatal(err)
	}
	spent := filepath.Join(home, "spent.log")
	const procs, each = 3, 40
	var cmds []*exec.Cmd
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRefresher$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TOKENSTORE_HELPER=1", "TOKENSTORE_HOME="+home, "TOKENSTORE_SPENT="+spent,
			"TOKENSTORE_N="+strconv.Itoa(each), "TOKENSTORE_ID="+strconv.Itoa(i))
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("helper %d:\n%s", i, out)
			}
		})
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	data, err := os.ReadFile(spent)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	lines := strings.Fields(string(data))
	for _, rt := range lines {
		if seen[rt] {
			t.Fatalf("refresh token %s was spent twice", rt)
		}
		seen[rt] = true
	}
	if len(lines) != procs*each {
		t.Fatalf("%d refreshes, want %d", len(lines), procs*each)
	}
	got, _, err := s.Get(ctx(t), "srv")
	if err != nil || got.RefreshToken != "rt-"+strconv.Itoa(procs*each) {
		t.Fatalf("final token %v (%v)", got.RefreshToken, err)
	}
}

// TestHelperRefresher is the child of TestRefreshAcrossProcesses.
func TestHelperRefresher(t *testing.T) {
	if os.Getenv("TOKENSTORE_HELPER") == "" {
		t.Skip("run by TestRefreshAcrossProcesses")
	}
	s := New(os.Getenv("TOKENSTORE_HOME"))
	n, _ := strconv.Atoi(os.Getenv("TOKENSTORE_N"))
	log, err := os.OpenFile(os.Getenv("TOKENSTORE_SPENT"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = log.Close() }()
	for range n {
		err := s.Update(ctx(t), "srv", func(cur Token, ok bool) (Token, bool, error) {
			// Spend the refresh token, as an authorization server with
			// rotation would: record it, and mint the next.
			if _, err := fmt.Fprintln(log, cur.RefreshToken); err != nil {
				return cur, false, err
			}
			k, _ := strconv.Atoi(strings.TrimPrefix(cur.RefreshToken, "rt-"))
			time.Sleep(time.Millisecond) // the network round trip
			cur.RefreshToken = "rt-" + strconv.Itoa(k+1)
			cur.AccessToken = "at-" + strconv.Itoa(k+1)
			return cur, true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A process killed at random moments while it writes tokens, 200 times:
// the file always parses and holds the last token written or the one being
// written; its mode stays 0600; no temporary file is left for long.
func TestKilledWhileWriting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: not in -short mode")
	}
	home := t.TempDir()
	progress := filepath.Join(t.TempDir(), "progress")
	s := New(home)
	// Other servers and registrations make the file large enough for a
	// kill to land in the middle of a write.
	for i := range 200 {
		if err := s.Put(ctx(t), "pad-"+strconv.Itoa(i), Token{Issuer: "https://as.example", Resource: "https://mcp.example/" + strings.Repeat("x", 200), AccessToken: "pad"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx(t), "srv", Token{Issuer: "https://as.example", AccessToken: "at-0"}); err != nil {
		t.Fatal(err)
	}
	last, midWrite := 0, 0
	for round := range 200 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TOKENSTORE_HELPER=1", "TOKENSTORE_HOME="+home, "TOKENSTORE_PROGRESS="+progress)
		// The kill is timed from the moment the writer starts writing, not
		// from its start: on a loaded machine a test binary can take longer
		// to start than the longest pause, and no kill would land in a write.
		ready, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = []*os.File{w}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		_ = w.Close()
		waitReady(t, ready, round)
		time.Sleep(time.Duration(1+round%37) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()

		if stale, _ := filepath.Glob(filepath.Join(home, FileName+".*.tmp")); len(stale) > 0 {
			midWrite++
		}
		fi, err := os.Stat(filepath.Join(home, FileName))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("round %d: %v mode %v", round, err, fi.Mode().Perm())
		}
		got, ok, err := s.Get(ctx(t), "srv")
		if err != nil || !ok {
			t.Fatalf("round %d: the file does not read: %v", round, err)
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(got.AccessToken, "at-"))
		// The newest token known to be written: reported by a writer, or
		// seen in the file after an earlier kill.
		base := max(lastLine(t, progress), last)
		// The file holds it, or the one written after it by a writer killed
		// before it could report it; never an older one, never a torn file.
		if n != base && n != base+1 {
			t.Fatalf("round %d: token at-%d, the newest known to be written is at-%d", round, n, base)
		}
		last = n
	}
	if last == 0 {
		t.Fatal("no write ever completed")
	}
	t.Logf("%d writes in all; %d of the 200 kills landed during a write", last, midWrite)
	if err := s.Put(ctx(t), "srv", Token{Issuer: "https://as.example", AccessToken: "final"}); err != nil {
		t.Fatal(err)
	}
	if stale, _ := filepath.Glob(filepath.Join(home, FileName+".*.tmp")); len(stale) > 0 {
		t.Fatalf("temporary files left: %v", stale)
	}
}

// waitReady waits, at most 30 s, for the writer to say it is about to write.
func waitReady(t *testing.T, ready *os.File, round int) {
	t.Helper()
	defer func() { _ = ready.Close() }()
	_ = ready.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 1)
	if _, err := ready.Read(buf); err != nil {
		t.Fatalf("round %d: the writer never started: %v", round, err)
	}
}

func lastLine(t *testing.T, path string) int {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(fields[len(fields)-1])
	return n
}

// TestHelperWriter is the child of TestKilledWhileWriting: it writes
// tokens as fast as it can and reports each one written.
func TestHelperWriter(t *testing.T) {
	if os.Getenv("TOKENSTORE_HELPER") == "" {
		t.Skip("run by TestKilledWhileWriting")
	}
	s := New(os.Getenv("TOKENSTORE_HOME"))
	progress, err := os.OpenFile(os.Getenv("TOKENSTORE_PROGRESS"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// Fd 3 is the pipe TestKilledWhileWriting waits on.
	ready := os.NewFile(3, "ready")
	if _, err := ready.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	_ = ready.Close()
	for {
		var next int
		err := s.Update(context.Background(), "srv", func(cur Token, ok bool) (Token, bool, error) {
			n, _ := strconv.Atoi(strings.TrimPrefix(cur.AccessToken, "at-"))
			next = n + 1
			cur.AccessToken = "at-" + strconv.Itoa(next)
			return cur, true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Fprintln(progress, next); err != nil {
			t.Fatal(err)
		}
	}
}
