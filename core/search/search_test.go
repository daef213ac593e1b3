package search

import (
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	for in, want := range map[string]string{
		"read_file":              "read file",
		"readFile":               "read file",
		"HTTPServer listFiles":   "http server list file",
		"Get the weather, today": "get the weather today",
		"github.create-issue":    "github create issue",
	} {
		if got := strings.Join(Tokens(in), " "); got != want {
			t.Errorf("Tokens(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRanking(t *testing.T) {
	ix := Build([]Doc{
		{"fs", "read_file", "Read a file from disk and return its contents."},
		{"fs", "write_file", "Write contents to a file on disk."},
		{"github", "create_issue", "Open an issue in a GitHub repository."},
		{"github", "list_issues", "List the issues of a repository, newest first."},
		{"weather", "forecast", "The weather forecast for a city."},
	})
	top := func(q string) string {
		hits := ix.Search(q, 2)
		var out []string
		for _, h := range hits {
			out = append(out, h.Doc.Server+"."+h.Doc.Name)
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string]string{
		"read file":             "fs.read_file,fs.write_file",
		"open a github issue":   "github.create_issue,github.list_issues",
		"weather":               "weather.forecast",
		"list issues":           "github.list_issues,github.create_issue",
		"nothing matches this?": "",
	} {
		if got := top(q); got != want {
			t.Errorf("%q: %s, want %s", q, got, want)
		}
	}
}

// BenchmarkSearch5000 searches 5,000 tools (25 servers × 200), the size of
// the synthetic fleet. Target: under 5 ms a search.
func BenchmarkSearch5000(b *testing.B) {
	ix := Build(Fleet(25, 200))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ix.Search("create an issue in the tracker for server 7", 10)
	}
}

func BenchmarkBuild5000(b *testing.B) {
	docs := Fleet(25, 200)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Build(docs)
	}
}
