package frontend_test

import (
	"flag"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/coretest"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
)

var update = flag.Bool("update", false, "rewrite the wire goldens in testdata/golden with what the proxy does now")

// TestWireGoldens replays each wire golden in testdata/golden (see
// core/coretest) in-process: the scripted upstream runs as an
// sdk.Transport and the client speaks to the frontend over pipes. The
// e2e suite replays the same files through the real binaries. Run with
// -update to rewrite the .want sections, and read the diff.
func TestWireGoldens(t *testing.T) { replayGoldens(t, false) }

// TestWireGoldensThroughAHub replays them again with the core as a hub's
// session, its upstream shared (core/share): a session alone on a hub
// sees what a proxy of its own would show it, frame for frame. Only the
// progress tokens the upstream gets differ (the hub gives each call one
// of its own), and are masked.
func TestWireGoldensThroughAHub(t *testing.T) { replayGoldens(t, true) }

func replayGoldens(t *testing.T, hub bool) {
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	if len(files) == 0 {
		t.Fatal("no goldens in testdata/golden")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			ar := coretest.ReadArchive(t, f)
			sc, err := scripted.Parse([]byte(ar.Get("script.json")))
			if err != nil {
				t.Fatal(err)
			}
			opts := coretest.Options{Scripts: map[string]scripted.Script{"up": sc}}
			c := coretest.New(t, opts)
			if hub {
				c = coretest.NewHub(t, opts, coretest.HubOptions{}).Core(t)
			}
			cl := c.Serve(t)
			coretest.PlayClient(t, cl, ar.Get("client"))
			if err := cl.Close(); err != nil {
				t.Fatal(err)
			}
			var up []string
			for _, m := range c.Transport.Received("up") {
				up = append(up, string(m))
			}
			client, upstream := coretest.NormalizeClient(cl.Messages()), coretest.NormalizeUpstream(up)
			if hub {
				ar.Set("upstream.want", progressToken.ReplaceAllString(ar.Get("upstream.want"), `"progressToken":"<token>"`))
				upstream = progressToken.ReplaceAllString(upstream, `"progressToken":"<token>"`)
				ar.Check(t, f, false, client, upstream)
			} else {
				ar.Check(t, f, *update, client, upstream)
			}
			if t.Failed() {
				t.Logf("the upstream received, whole:\n%s", strings.Join(up, "\n"))
			}
		})
	}
}

// progressToken is a request's progress token, in a frame.
var progressToken = regexp.MustCompile(`"progressToken":("[^"]*"|[0-9.]+)`)
