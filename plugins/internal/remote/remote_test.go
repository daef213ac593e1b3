package remote

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRedirectsStayOnTheOrigin(t *testing.T) {
	var leaked bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("X-Api-Key") != ""
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/mcp", http.StatusTemporaryRedirect)
		case "/away":
			http.Redirect(w, r, other.URL+"/mcp", http.StatusTemporaryRedirect)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	c := NewClient()
	// do is the status of a POST to path, or the error.
	do := func(path string) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader("{}"))
		req.Header.Set("X-Api-Key", "secret")
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	if status, err := do("/moved"); err != nil || status != http.StatusNoContent {
		t.Fatalf("same-origin redirect: %v %v", status, err)
	}
	if _, err := do("/away"); err == nil || !strings.Contains(err.Error(), "another origin") || leaked {
		t.Fatalf("cross-origin redirect: err %v, header leaked %v", err, leaked)
	}
}

func TestAttribute(t *testing.T) {
	req := Msg{Method: "server/discover", ID: []byte("7")}
	got := string(Attribute([]byte(`{"jsonrpc":"2.0","error":{"code":-32000,"message":"x"},"id":null}`), req))
	if !strings.Contains(got, `"id":7`) {
		t.Fatalf("null id not attributed: %s", got)
	}
	keep := `{"jsonrpc":"2.0","error":{"code":1,"message":"x"},"id":3}`
	if got := string(Attribute([]byte(keep), req)); got != keep {
		t.Fatalf("an answer with its own id changed: %s", got)
	}
	if got := string(Attribute([]byte(`{"jsonrpc":"2.0","error":{},"id":null}`), Msg{Method: "notifications/x"})); strings.Contains(got, "7") {
		t.Fatalf("a notification's answer was attributed: %s", got)
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://mcp.example.com/mcp": true,
		"http://127.0.0.1:8080/mcp":   true,
		"http://[::1]:8080/mcp":       true,
		"http://localhost/mcp":        true,
		"http://10.0.0.1/mcp":         false,
		"http://mcp.example.com/mcp":  false,
		"file:///etc/passwd":          false,
		"https:///nohost":             false,
	} {
		if _, err := CheckURL(raw, false); (err == nil) != ok {
			t.Errorf("%s: err %v", raw, err)
		}
	}
}
