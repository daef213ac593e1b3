package coretest

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// A wire golden is a txtar archive: a comment saying what it pins, then
// the scripted upstream (script.json, see internal/scripted), the frames a
// client sends (client), and the frames each side must receive
// (client.want: everything the client got; upstream.want: what the
// upstream got, without the start-up and listing traffic). The same files
// replay in-process (core/frontend's TestWireGoldens, with this package's
// Client) and through the real binaries (test/e2e), on both data paths.

// Peer is the client side of a golden: Client in-process, the e2e suite's
// client over a process's stdio.
type Peer interface {
	Send(msg string)
	OnRequest(method string, answer func(params json.RawMessage) string)
	Next(from int, match func(json.RawMessage) bool) (json.RawMessage, int)
}

// PlayClient runs a golden's client script: a JSON line is sent
// ({{requestState}} becoming the last requestState the client was given);
// "wait ID" waits for the answer to ID; "await METHOD" waits for a
// notification or request of METHOD; "answer METHOD RESULT" answers the
// proxy's requests METHOD with RESULT, and waits for one.
func PlayClient(t testing.TB, c Peer, script string) {
	t.Helper()
	state := ""
	// The answers are given as the requests come (the client's reader
	// answers them); an "answer" line waits for its request.
	for _, line := range strings.Split(script, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "answer "); ok {
			method, result, _ := strings.Cut(rest, " ")
			c.OnRequest(method, func(json.RawMessage) string { return result })
		}
	}
	sc := bufio.NewScanner(strings.NewReader(script))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "wait "):
			id := strings.TrimSpace(strings.TrimPrefix(line, "wait "))
			msg, _ := c.Next(0, func(m json.RawMessage) bool {
				r := gjson.GetManyBytes(m, "id", "method")
				return r[0].Raw == id && !r[1].Exists()
			})
			if st := gjson.GetBytes(msg, "result.requestState"); st.Exists() {
				state = st.Str
			}
		case strings.HasPrefix(line, "await "):
			method := strings.TrimSpace(strings.TrimPrefix(line, "await "))
			c.Next(0, func(m json.RawMessage) bool { return gjson.GetBytes(m, "method").Str == method })
		case strings.HasPrefix(line, "answer "):
			method, _, _ := strings.Cut(strings.TrimPrefix(line, "answer "), " ")
			c.Next(0, func(m json.RawMessage) bool {
				r := gjson.GetManyBytes(m, "id", "method")
				return r[0].Exists() && r[1].Str == method
			})
		default:
			q, _ := json.Marshal(state)
			c.Send(strings.ReplaceAll(line, `"{{requestState}}"`, string(q)))
		}
	}
}

var (
	proxyVersion = regexp.MustCompile(`("name":"ica-mcp-proxy"(?:,"title":"[^"]*")?,"version":")[^"]*"`)
	signedState  = regexp.MustCompile(`"ica1\.[A-Za-z0-9_.-]*"`)
)

// MaskVersion replaces the proxy's version in a frame with <version>.
func MaskVersion(frame string) string { return proxyVersion.ReplaceAllString(frame, `${1}<version>"`) }

// NormalizeClient is what the client received, one message a line, with
// the proxy's version and signed requestStates (different every run)
// replaced by placeholders.
func NormalizeClient(all []json.RawMessage) string {
	var b strings.Builder
	for _, m := range all {
		s := MaskVersion(string(m))
		s = signedState.ReplaceAllString(s, `"<requestState>"`)
		b.WriteString(s + "\n")
	}
	return b.String()
}

// startupMethods are the requests the proxy sends an upstream on its own
// (probe, handshake, listings), not part of what a golden pins.
var startupMethods = map[string]bool{
	"server/discover": true, "ping": true, "initialize": true, "notifications/initialized": true,
	"tools/list": true, "resources/list": true, "resources/templates/list": true, "prompts/list": true,
	"subscriptions/listen": true,
}

// NormalizeUpstream is what the upstream received (one message a line),
// without start-up traffic and its answers, ids numbered by first
// appearance.
func NormalizeUpstream(received []string) string {
	ids := map[string]string{}
	startupIDs := map[string]bool{}
	name := func(raw string) string {
		if n, ok := ids[raw]; ok {
			return n
		}
		n := strconv.Quote("<u" + strconv.Itoa(len(ids)+1) + ">")
		ids[raw] = n
		return n
	}
	var b strings.Builder
	for _, line := range received {
		if strings.TrimSpace(line) == "" {
			continue
		}
		r := gjson.GetMany(line, "id", "method", "params.requestId")
		if startupMethods[r[1].Str] {
			startupIDs[r[0].Raw] = true
			continue
		}
		if r[1].Str == "notifications/cancelled" && startupIDs[r[2].Raw] {
			continue
		}
		out := line
		if r[0].Exists() {
			out, _ = sjson.SetRaw(out, "id", name(r[0].Raw))
		}
		if r[2].Exists() {
			out, _ = sjson.SetRaw(out, "params.requestId", name(r[2].Raw))
		}
		b.WriteString(MaskVersion(out) + "\n")
	}
	return b.String()
}

// Archive is a txtar file: a comment, then named sections. (Written here:
// golang.org/x/tools/txtar would bring all of x/tools for 40 lines.)
type Archive struct {
	comment string
	names   []string
	data    map[string]string
}

// ReadArchive reads a txtar file.
func ReadArchive(t testing.TB, file string) *Archive {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a := &Archive{data: map[string]string{}}
	cur := ""
	var b strings.Builder
	flush := func() {
		if cur == "" {
			a.comment = b.String()
		} else {
			a.names = append(a.names, cur)
			a.data[cur] = b.String()
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(strings.TrimSpace(line), " --") {
			flush()
			cur = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "-- "), " --")
			continue
		}
		b.WriteString(line)
	}
	flush()
	return a
}

// Get is a section's content.
func (a *Archive) Get(name string) string { return a.data[name] }

// Set replaces (or adds) a section.
func (a *Archive) Set(name, content string) {
	if _, ok := a.data[name]; !ok {
		a.names = append(a.names, name)
	}
	a.data[name] = content
}

// Bytes is the archive as a file.
func (a *Archive) Bytes() []byte {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, n := range a.names {
		b.WriteString("-- " + n + " --\n" + a.data[n])
	}
	return []byte(b.String())
}

// Check compares what the client and the upstream received with the
// archive's .want sections, or rewrites them when update is set.
func (a *Archive) Check(t testing.TB, file string, update bool, client, upstream string) {
	t.Helper()
	if update {
		a.Set("client.want", client)
		a.Set("upstream.want", upstream)
		if err := os.WriteFile(file, a.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want := a.Get("client.want"); client != want {
		t.Errorf("the client received:\n%s\nwant:\n%s", client, want)
	}
	if want := a.Get("upstream.want"); upstream != want {
		t.Errorf("the upstream received:\n%s\nwant:\n%s", upstream, want)
	}
}
