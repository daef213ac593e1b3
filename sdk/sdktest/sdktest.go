// Package sdktest runs a plugin implementation in-process, over a real gRPC
// connection, against the same host-side client code the proxy uses. A
// plugin author tests a plugin with it without building binaries:
//
//	client := sdktest.Transport(t, mytransport.New())
//	sess, err := client.Open(ctx, sdk.SessionSpec{Server: "demo", ...})
//
//	auth, info := sdktest.Auth(t, myflow.New())
//	started, err := auth.Begin(ctx, sdk.Grant{Flow: "device_code", ...})
package sdktest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// Transport serves impl in-process and returns the host's client for it.
// Everything is torn down when the test ends.
func Transport(t testing.TB, impl sdk.Transport) sdk.TransportClient {
	t.Helper()
	client := connect(t, impl)
	tc, err := sdk.DispenseTransport(client)
	if err != nil {
		t.Fatalf("dispense transport: %v", err)
	}
	return tc
}

// TransportDirect is Transport with a descriptor channel between the two
// sides, as the proxy gives its plugin processes: the sessions' messages
// travel off the gRPC stream when the transport allows (the upstream's own
// pipes for an sdk.PipeTransport, a socket pair otherwise). Where
// descriptors cannot be passed, the test is skipped.
func TransportDirect(t testing.TB, impl sdk.Transport) sdk.TransportClient {
	t.Helper()
	host, pluginEnd, err := sdk.NewFDChannel()
	if err != nil {
		t.Skipf("no descriptor channel: %v", err)
	}
	ch, err := sdk.FDChannelFromFile(pluginEnd)
	if err != nil {
		t.Fatalf("descriptor channel: %v", err)
	}
	t.Cleanup(func() { _ = host.Close(); _ = ch.Close() })
	client := serve(t, func(logger hclog.Logger) plugin.PluginSet { return sdk.TransportPluginsOver(impl, logger, ch) })
	tc, err := sdk.DispenseTransportOver(client, host, nil)
	if err != nil {
		t.Fatalf("dispense transport: %v", err)
	}
	return tc
}

// BothDataPaths runs a package's tests twice, from its TestMain: with
// *direct false (messages on the gRPC stream, sdktest.Transport), then
// true (sdktest.TransportDirect), and returns the exit code for os.Exit.
//
//	var direct bool
//	func TestMain(m *testing.M) { os.Exit(sdktest.BothDataPaths(m, &direct)) }
func BothDataPaths(m *testing.M, direct *bool) int {
	code := m.Run()
	*direct = true
	if c := m.Run(); c != 0 {
		code = c
	}
	return code
}

// Info serves impl in-process and returns what the host's Info call sees,
// with the Kind and APIVersion the sdk fills in.
func Info(t testing.TB, impl sdk.Transport) sdk.Info {
	t.Helper()
	return infoOf(t, connect(t, impl))
}

// infoOf asks a served plugin what it is.
func infoOf(t testing.TB, client *plugin.GRPCClient) sdk.Info {
	t.Helper()
	ic, err := sdk.DispenseInfo(client)
	if err != nil {
		t.Fatalf("dispense info: %v", err)
	}
	info, err := ic.Info(context.Background())
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	return info
}

// Auth serves impl in-process and returns the host's client for it, and
// what the host's Info call sees.
func Auth(t testing.TB, impl sdk.Auth) (sdk.AuthClient, sdk.Info) {
	t.Helper()
	client := serve(t, func(logger hclog.Logger) plugin.PluginSet { return sdk.AuthPlugins(impl, logger) })
	ac, err := sdk.DispenseAuth(client)
	if err != nil {
		t.Fatalf("dispense auth: %v", err)
	}
	return ac, infoOf(t, client)
}

func connect(t testing.TB, impl sdk.Transport) *plugin.GRPCClient {
	return serve(t, func(logger hclog.Logger) plugin.PluginSet { return sdk.TransportPlugins(impl, logger) })
}

// serve runs the plugin set in-process over a real gRPC connection.
func serve(t testing.TB, set func(hclog.Logger) plugin.PluginSet) *plugin.GRPCClient {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	logger := hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: w, Level: hclog.Debug})
	ps := set(logger)
	// TestPluginGRPCConn builds its client from the same PluginSet; the
	// host side of each plugin ignores the plugin-side fields.
	client, _ := plugin.TestPluginGRPCConn(t, false, ps)
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// testWriter sends the plugin's log to the test's log until the test ends;
// a session may still log while it shuts down, and t.Log would panic then.
type testWriter struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// Recv returns the session's next frame, failing the test on an error or
// when none comes within 10 seconds.
func Recv(t testing.TB, sess sdk.ClientSession) sdk.Frame {
	t.Helper()
	type result struct {
		f   sdk.Frame
		err error
	}
	ch := make(chan result, 1)
	go func() {
		f, err := sess.Recv()
		ch <- result{f, err}
	}()
	select {
	case got := <-ch:
		if got.err != nil {
			t.Fatalf("recv: %v", got.err)
		}
		return got.f
	case <-time.After(10 * time.Second):
		t.Fatal("no frame within 10s")
	}
	return sdk.Frame{}
}
