package stdio_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/transport-stdio/stdio"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// These tests run the real transport in-process through sdktest, over gRPC,
// against the host-side client the proxy uses: every test twice, with the
// messages on the gRPC stream and then on the direct path (the host reads
// and writes the child's pipes).

var direct bool

func TestMain(m *testing.M) { os.Exit(sdktest.BothDataPaths(m, &direct)) }

func transport(t *testing.T) sdk.TransportClient {
	if direct {
		return sdktest.TransportDirect(t, stdio.New("test"))
	}
	return sdktest.Transport(t, stdio.New("test"))
}

func open(t *testing.T, spec sdk.SessionSpec) sdk.ClientSession {
	t.Helper()
	client := transport(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	spec.Server, spec.Transport = "t", "stdio"
	if spec.Env == nil {
		spec.Env = map[string]string{"PATH": os.Getenv("PATH")}
	}
	sess, err := client.Open(ctx, spec)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(sess.Abort)
	want := "stream"
	if direct {
		want = "lines"
	}
	if got := sdk.DataPathOf(sess); got != want {
		t.Fatalf("data path %s, want %s", got, want)
	}
	return sess
}

func exited(t *testing.T, sess sdk.ClientSession) sdk.Exited {
	t.Helper()
	for {
		f := sdktest.Recv(t, sess)
		if ev, ok := f.Event.(sdk.Exited); ok {
			if _, err := sess.Recv(); !errors.Is(err, io.EOF) {
				t.Fatalf("after Exited, want EOF, got %v", err)
			}
			return ev
		}
	}
}

func TestInfo(t *testing.T) {
	info := sdktest.Info(t, stdio.New("1.2.3"))
	if info.Kind != sdk.KindTransport || info.APIVersion != sdk.APIVersion || info.Names[0] != "stdio" || info.Version != "1.2.3" {
		t.Fatalf("info = %+v", info)
	}
}

func TestMessagesRoundTripAndNonJSONIsDropped(t *testing.T) {
	// cat answers every line with itself; the banner is not JSON-RPC.
	sess := open(t, sdk.SessionSpec{Command: "sh", Args: []string{"-c", "echo 'server starting...'; exec cat"}})
	msg := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	if err := sess.Send([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if f := sdktest.Recv(t, sess); len(f.Messages) != 1 || string(f.Messages[0]) != msg {
		t.Fatalf("got %+v, want the message back verbatim", f)
	}
	if err := sess.Close(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	ev := exited(t, sess)
	if ev.ExitCode != 0 || ev.Reason != "closed by host" {
		t.Fatalf("closing cat by its stdin: %+v", ev)
	}
}

func TestExactEnvironmentAndCwd(t *testing.T) {
	dir := t.TempDir()
	script := `printf '{"pwd":"%s","env":"%s"}\n' "$(pwd)" "$(env | grep -v '^PWD=' | grep -v '^SHLVL=' | grep -v '^_=' | sort | tr '\n' ';')"`
	sess := open(t, sdk.SessionSpec{
		Command: "sh", Args: []string{"-c", script}, Cwd: dir,
		Env: map[string]string{"PATH": os.Getenv("PATH"), "ONLY_THIS": "yes"},
	})
	var got struct{ Pwd, Env string }
	if err := json.Unmarshal(sdktest.Recv(t, sess).Messages[0], &got); err != nil {
		t.Fatal(err)
	}
	if got.Pwd != dir {
		t.Errorf("cwd = %q, want %q", got.Pwd, dir)
	}
	if want := "ONLY_THIS=yes;PATH=" + os.Getenv("PATH") + ";"; got.Env != want {
		t.Errorf("environment = %q, want exactly %q", got.Env, want)
	}
	exited(t, sess)
}

func TestExitCodeAndStderrTail(t *testing.T) {
	sess := open(t, sdk.SessionSpec{Command: "sh", Args: []string{"-c", "echo first >&2; echo 'last words' >&2; exit 7"}})
	ev := exited(t, sess)
	if ev.ExitCode != 7 || len(ev.StderrTail) != 2 || ev.StderrTail[1] != "last words" || ev.Reason != "upstream process exited" {
		t.Fatalf("exited = %+v", ev)
	}
}

func TestOpenFailsClearly(t *testing.T) {
	client := transport(t)
	_, err := client.Open(context.Background(), sdk.SessionSpec{Server: "t", Command: "no-such-command-xyz", Env: map[string]string{"PATH": "/nonexistent"}})
	var ex *sdk.ExitedError
	if !errors.As(err, &ex) || !strings.Contains(err.Error(), `command "no-such-command-xyz" not found`) {
		t.Fatalf("err = %v", err)
	}
}

func TestCloseEndsTheWholeGroup(t *testing.T) {
	// The shell ignores stdin closing and keeps a grandchild: only signals
	// to the group end both.
	sess := open(t, sdk.SessionSpec{Command: "sh", Args: []string{"-c", "trap '' HUP; sleep 300 & sleep 300; wait"}})
	pid, err := strconv.Atoi(strings.TrimPrefix(sess.Ready().Detail, "pid "))
	if err != nil {
		t.Fatalf("ready detail %q", sess.Ready().Detail)
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := sess.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	ev := exited(t, sess)
	if ev.Signal == "" || time.Since(start) > 3*time.Second {
		t.Fatalf("exited = %+v after %s", ev, time.Since(start))
	}
	// Members may linger briefly as zombies until init reaps them; a
	// zombie has ended.
	deadline := time.Now().Add(2 * time.Second)
	for len(groupMembers(pid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has members: %v", pid, groupMembers(pid))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupMembers lists the running (not zombie) processes of group pgid.
func groupMembers(pgid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// state ppid pgrp ...
		if len(fields) > 2 && fields[0] != "Z" && fields[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}
