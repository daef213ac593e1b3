package e2e

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

var update = flag.Bool("update", false, "rewrite the wire goldens in testdata/golden with what the proxy does now")

// TestWireGoldens pins the bridging between revisions at the wire: each
// file in testdata/golden is a txtar archive holding a scripted upstream
// (script.json, played by ./scripted), the frames a client sends (client),
// and the frames each side must receive (client.want: everything the
// client got; upstream.want: what the upstream got, without the start-up
// and listing traffic). Run with -update to rewrite the .want sections,
// and read the diff.
func TestWireGoldens(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	if len(files) == 0 {
		t.Fatal("no goldens in testdata/golden")
	}
	bin := buildScripted(t)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) { runGolden(t, bin, f) })
	}
}

func runGolden(t *testing.T, bin, file string) {
	ar := readTxtar(t, file)
	dir := t.TempDir()
	scriptPath, record := filepath.Join(dir, "script.json"), filepath.Join(dir, "record.jsonl")
	if err := os.WriteFile(scriptPath, []byte(ar.get("script.json")), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.writeProject(t, map[string]any{"up": map[string]any{"command": bin, "env": map[string]any{"SCRIPT": scriptPath, "RECORD": record}}})
	c := startRPC(t, e.command())
	playClient(t, c, ar.get("client"))
	_ = c.stdin.Close()
	<-c.done

	c.mu.Lock()
	got := normalizeClient(c.all)
	c.mu.Unlock()
	up := normalizeUpstream(t, record)
	if *update {
		ar.set("client.want", got)
		ar.set("upstream.want", up)
		if err := os.WriteFile(file, ar.bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want := ar.get("client.want"); got != want {
		t.Errorf("the client received:\n%s\nwant:\n%s", got, want)
	}
	if want := ar.get("upstream.want"); up != want {
		t.Errorf("the upstream received:\n%s\nwant:\n%s", up, want)
	}
}

// playClient runs a client script: a JSON line is sent ({{requestState}}
// becoming the last requestState the client was given); "wait ID" waits
// for the answer to ID; "answer METHOD RESULT" answers the proxy's
// requests METHOD with RESULT, and waits for one.
func playClient(t *testing.T, c *rpc, script string) {
	t.Helper()
	state := ""
	seen := 0
	next := func(match func(json.RawMessage) bool) json.RawMessage {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			c.mu.Lock()
			all := c.all
			c.mu.Unlock()
			for i := seen; i < len(all); i++ {
				if match(all[i]) {
					return all[i]
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("client script: nothing came in 20 s; got %d messages", len(c.all))
		return nil
	}
	// The answers are given as the requests come (the client's reader
	// answers them); an "answer" line waits for its request.
	for _, line := range strings.Split(script, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "answer "); ok {
			method, result, _ := strings.Cut(rest, " ")
			c.onRequest(method, func(json.RawMessage) string { return result })
		}
	}
	sc := bufio.NewScanner(strings.NewReader(script))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "wait "):
			id := strings.TrimSpace(strings.TrimPrefix(line, "wait "))
			msg := next(func(m json.RawMessage) bool {
				r := gjson.GetManyBytes(m, "id", "method")
				return r[0].Raw == id && !r[1].Exists()
			})
			if st := gjson.GetBytes(msg, "result.requestState"); st.Exists() {
				state = st.Str
			}
		case strings.HasPrefix(line, "answer "):
			method, _, _ := strings.Cut(strings.TrimPrefix(line, "answer "), " ")
			next(func(m json.RawMessage) bool {
				r := gjson.GetManyBytes(m, "id", "method")
				return r[0].Exists() && r[1].Str == method
			})
		default:
			q, _ := json.Marshal(state)
			c.send(strings.ReplaceAll(line, `"{{requestState}}"`, string(q)))
		}
	}
}

var proxyVersion = regexp.MustCompile(`("name":"ica-mcp-proxy"(?:,"title":"[^"]*")?,"version":")[^"]*"`)

// normalizeClient is what the client received, one message a line, with
// the proxy's version and signed requestStates (different every run)
// replaced by placeholders.
func normalizeClient(all []json.RawMessage) string {
	var b strings.Builder
	for _, m := range all {
		s := proxyVersion.ReplaceAllString(string(m), `${1}<version>"`)
		s = regexp.MustCompile(`"ica1\.[A-Za-z0-9_.-]*"`).ReplaceAllString(s, `"<requestState>"`)
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

// normalizeUpstream is what the upstream received, without start-up
// traffic and its answers, ids numbered by first appearance.
func normalizeUpstream(t *testing.T, record string) string {
	t.Helper()
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
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
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
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
		b.WriteString(proxyVersion.ReplaceAllString(out, `${1}<version>"`) + "\n")
	}
	return b.String()
}

// archive is a txtar file: a comment, then named sections. (Written here:
// golang.org/x/tools/txtar would bring all of x/tools for 40 lines.)
type archive struct {
	comment string
	names   []string
	data    map[string]string
}

func readTxtar(t *testing.T, file string) *archive {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a := &archive{data: map[string]string{}}
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

func (a *archive) get(name string) string { return a.data[name] }

func (a *archive) set(name, content string) {
	if _, ok := a.data[name]; !ok {
		a.names = append(a.names, name)
	}
	a.data[name] = content
}

func (a *archive) bytes() []byte {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, n := range a.names {
		b.WriteString("-- " + n + " --\n" + a.data[n])
	}
	return []byte(b.String())
}
