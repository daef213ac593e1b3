package sse_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/plugins/transport-sse/sse"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk/sdktest"
)

// Every test runs twice: with the messages on the gRPC stream, then on the
// socket pair beside it (sdk's DATA_PATH_FRAMES), as the proxy runs it.
var direct bool

func TestMain(m *testing.M) { os.Exit(sdktest.BothDataPaths(m, &direct)) }

// These tests run the real transport in-process through sdktest against
// small HTTP+SSE servers.

func tryOpen(t *testing.T, url string) (sdk.ClientSession, error) {
	t.Helper()
	client := sdktest.Transport(t, sse.New("test"))
	if direct {
		client = sdktest.TransportDirect(t, sse.New("test"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := client.Open(ctx, sdk.SessionSpec{Server: "t", Transport: "sse", URL: url,
		Headers: map[string]string{"Authorization": "Bearer k"}})
	if err == nil {
		t.Cleanup(sess.Abort)
		if want := map[bool]string{false: "stream", true: "frames"}[direct]; sdk.DataPathOf(sess) != want {
			t.Fatalf("data path %s, want %s", sdk.DataPathOf(sess), want)
		}
	}
	return sess, err
}

// echoServer is a minimal HTTP+SSE server: every POSTed request is
// answered on the stream with its own params as result.
func echoServer(t *testing.T, endpoint string) *httptest.Server {
	msgs := make(chan string, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sse", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = fmt.Fprintf(w, "event: endpoint\ndata: %s\n\n", endpoint)
		w.(http.Flusher).Flush()
		for {
			select {
			case m := <-msgs:
				_, _ = fmt.Fprintf(w, "event: message\ndata: %s\n\n", m)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("POST /messages", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("session") != "abc" || r.Header.Get("Authorization") != "Bearer k" {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		if strings.Contains(string(body), `"id"`) {
			msgs <- strings.Replace(string(body), `"method":"echo","params"`, `"result"`, 1)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestMessagesGoByPOSTAndComeOnTheStream(t *testing.T) {
	srv := echoServer(t, "/messages?session=abc")
	sess, err := tryOpen(t, srv.URL+"/sse")
	if err != nil {
		t.Fatal(err)
	}
	if d := sess.Ready().Detail; !strings.HasSuffix(d, "/messages") {
		t.Fatalf("ready detail %q should name the endpoint without its query", d)
	}
	if err := sess.Send([]byte(`{"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":"é"}}`)); err != nil {
		t.Fatal(err)
	}
	f := sdktest.Recv(t, sess)
	if len(f.Messages) != 1 || string(f.Messages[0]) != `{"jsonrpc":"2.0","id":1,"result":{"x":"é"}}` {
		t.Fatalf("got %q", f.Messages)
	}
	if err := sess.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	if ex, ok := sdktest.Recv(t, sess).Event.(sdk.Exited); !ok || ex.Reason != "closed by host" {
		t.Fatalf("want Exited(closed by host), got %#v", ex)
	}
}

func TestEndpointOnAnotherOriginIsRefused(t *testing.T) {
	srv := echoServer(t, "http://127.0.0.2:1/steal")
	_, err := tryOpen(t, srv.URL+"/sse")
	if err == nil || !strings.Contains(err.Error(), "not on its origin") {
		t.Fatalf("want a refusal, got %v", err)
	}
}

func TestUnknownSessionOnPOST(t *testing.T) {
	srv := echoServer(t, "/messages?session=other")
	sess, err := tryOpen(t, srv.URL+"/sse")
	if err != nil {
		t.Fatal(err)
	}
	_ = sess.Send([]byte(`{"jsonrpc":"2.0","id":1,"method":"echo","params":{}}`))
	if _, ok := sdktest.Recv(t, sess).Event.(sdk.SessionExpired); !ok {
		t.Fatal("a 404 from the endpoint should report SessionExpired")
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		check   func(error) bool
	}{
		{"401 is auth required", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="x"`)
			w.WriteHeader(http.StatusUnauthorized)
		}, func(err error) bool {
			var ee *sdk.EventError
			ar, ok := eventOf(err, &ee).(sdk.AuthRequired)
			return ok && ar.WWWAuthenticate == `Bearer realm="x"`
		}},
		{"JSON instead of a stream is unsupported", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{}`)
		}, func(err error) bool {
			var ee *sdk.EventError
			_, ok := eventOf(err, &ee).(sdk.Unsupported)
			return ok
		}},
		{"405 is unsupported", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}, func(err error) bool {
			var ee *sdk.EventError
			u, ok := eventOf(err, &ee).(sdk.Unsupported)
			return ok && u.Status == 405
		}},
		{"500 is an error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "boom")
		}, func(err error) bool {
			var ee *sdk.EventError
			return !errors.As(err, &ee) && strings.Contains(err.Error(), "boom")
		}},
		{"a stream that ends before the endpoint", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "event: message\ndata: {}\n\n")
		}, func(err error) bool { return strings.Contains(err.Error(), "endpoint event") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			_, err := tryOpen(t, srv.URL)
			if err == nil || !c.check(err) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func eventOf(err error, ee **sdk.EventError) sdk.Event {
	if !errors.As(err, ee) {
		return nil
	}
	return (*ee).Event
}
