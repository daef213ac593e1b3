package frontend_test

import (
	"flag"
	"path/filepath"
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
func TestWireGoldens(t *testing.T) {
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
			c := coretest.New(t, coretest.Options{Scripts: map[string]scripted.Script{"up": sc}})
			cl := c.Serve(t)
			coretest.PlayClient(t, cl, ar.Get("client"))
			if err := cl.Close(); err != nil {
				t.Fatal(err)
			}
			var up []string
			for _, m := range c.Transport.Received("up") {
				up = append(up, string(m))
			}
			ar.Check(t, f, *update, coretest.NormalizeClient(cl.Messages()), coretest.NormalizeUpstream(up))
			if t.Failed() {
				t.Logf("the upstream received, whole:\n%s", strings.Join(up, "\n"))
			}
		})
	}
}
