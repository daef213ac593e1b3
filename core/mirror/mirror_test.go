package mirror

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func tools(names ...string) []json.RawMessage {
	var out []json.RawMessage
	for _, n := range names {
		out = append(out, json.RawMessage(fmt.Sprintf(`{"name":%q,"description":"d","inputSchema":{"type":"object","$schema":"x"}}`, n)))
	}
	return out
}

func TestNames(t *testing.T) {
	if got := Join("my server", "do/it", ".", 0); got != "my_server.do_it" {
		t.Fatalf("sanitised name = %q", got)
	}
	if got := Join("a.b", "c.d", "__", 0); got != "a_b__c_d" {
		t.Fatalf("with separator __: %q", got)
	}
	long := Join("server", strings.Repeat("x", 100), ".", 0)
	if len(long) != MaxNameLen || long != Join("server", strings.Repeat("x", 100), ".", 0) {
		t.Fatalf("long names must be cut to %d stably: %q", MaxNameLen, long)
	}
	other := Join("server", strings.Repeat("x", 99)+"y", ".", 0)
	if other == long {
		t.Fatal("two long names with the same prefix must differ")
	}
	// A budget of 44 (Claude Code's, with the entry ica-mcp-proxy): cut to
	// it, stably, keeping the hash suffix.
	cut := Join("server", strings.Repeat("x", 100), "__", 44)
	if len(cut) != 44 || cut != Join("server", strings.Repeat("x", 100), "__", 44) || cut[35] != '-' {
		t.Fatalf("a name cut to 44: %q", cut)
	}
	tb := Build([]ServerTools{{Server: "a-rather-long-server-name", Tools: []json.RawMessage{
		json.RawMessage(`{"name":"a_tool_with_a_long_descriptive_name"}`), json.RawMessage(`{"name":"t"}`)}}}, Limits{MaxNameLen: 30}, "__", nil)
	for _, x := range tb.Tools {
		if len(x.Exposed) > 30 {
			t.Fatalf("%q is longer than the budget of 30", x.Exposed)
		}
	}
}

func TestBuildKeepsBytesAndResolvesCollisions(t *testing.T) {
	in := []ServerTools{
		{Server: "a", Tools: tools("x y", "x_y")}, // both sanitise to a.x_y
		{Server: "proxy", Tools: tools("call")},   // would take a broker name
	}
	tb := Build(in, Limits{}, ".", []string{"proxy.call"})
	var names []string
	for _, x := range tb.Tools {
		names = append(names, x.Exposed)
	}
	if len(names) != 3 || names[0] != "a.x_y" || !strings.HasPrefix(names[1], "a.x_y-") || !strings.HasPrefix(names[2], "proxy.call-") {
		t.Fatalf("names = %v", names)
	}
	again := Build(in, Limits{}, ".", []string{"proxy.call"})
	if !Same(tb, again) {
		t.Fatal("building twice must give the same table")
	}
	tool, ok := tb.Lookup(names[1])
	if !ok || tool.Server != "a" || tool.Name != "x_y" {
		t.Fatalf("lookup: %+v", tool)
	}
	var def map[string]json.RawMessage
	_ = json.Unmarshal(tool.Definition, &def)
	if string(def["inputSchema"]) != `{"type":"object","$schema":"x"}` || string(def["name"]) != `"`+names[1]+`"` {
		t.Fatalf("definition must keep the upstream's bytes: %s", tool.Definition)
	}
}

func TestCaps(t *testing.T) {
	in := []ServerTools{{Server: "a", Tools: tools("1", "2", "3")}, {Server: "b", Tools: tools("1", "2", "3")}}
	tb := Build(in, Limits{MaxToolsPerServer: 2, MaxTotalTools: 3}, ".", nil)
	if len(tb.Tools) != 3 || tb.ToolsTotal != 6 || !tb.Truncated {
		t.Fatalf("caps not applied: %d tools of %d", len(tb.Tools), tb.ToolsTotal)
	}
	caps := map[string]bool{}
	for _, r := range tb.Reasons {
		caps[r.Server+" "+r.Cap] = true
	}
	for _, want := range []string{"a " + CapToolsPerServer, "b " + CapToolsPerServer, "b " + CapTotalTools} {
		if !caps[want] {
			t.Errorf("missing reason %q in %+v", want, tb.Reasons)
		}
	}
	kept, reason := ServerCap([]string{"a", "b", "c"}, Limits{MaxServers: 2})
	if len(kept) != 2 || reason == nil || !strings.Contains(reason.Detail, "c") {
		t.Fatalf("server cap: %v %+v", kept, reason)
	}
	bad := Build([]ServerTools{{Server: "a", Tools: []json.RawMessage{json.RawMessage(`{"description":"no name"}`), json.RawMessage(`[1]`)}}}, Limits{}, ".", nil)
	if len(bad.Tools) != 0 || len(bad.Reasons) != 2 {
		t.Fatalf("invalid tools must be skipped with a reason: %+v", bad)
	}
}

func TestCatalog(t *testing.T) {
	raw := func(s ...string) []json.RawMessage {
		var out []json.RawMessage
		for _, x := range s {
			out = append(out, json.RawMessage(x))
		}
		return out
	}
	prompts := BuildCatalog(KindPrompts, []ServerItems{
		{Server: "a", Items: raw(`{"name":"greet","arguments":[{"name":"who"}],"x-extra":1}`, `{"name":"greet"}`, `{"nope":1}`)},
		{Server: "b", Items: raw(`{"name":"greet"}`)},
	}, Limits{}, ".")
	if len(prompts.Items) != 2 {
		t.Fatalf("prompts: %+v", prompts.Items)
	}
	it, ok := prompts.Lookup("a.greet")
	if !ok || it.Server != "a" || it.Name != "greet" || !strings.Contains(string(it.Definition), `"x-extra":1`) {
		t.Fatalf("a.greet: %+v %s", it, it.Definition)
	}
	if _, ok := prompts.Lookup("b.greet"); !ok {
		t.Fatal("b.greet missing")
	}
	if len(prompts.Reasons) != 2 {
		t.Fatalf("want a duplicate and an invalid reason, got %+v", prompts.Reasons)
	}

	res := BuildCatalog(KindResources, []ServerItems{
		{Server: "a", Items: raw(`{"uri":"test://1","name":"One"}`, `{"uri":"test://2","name":"Two"}`, `{"uri":"test://3","name":"Three"}`)},
		{Server: "b", Items: raw(`{"uri":"test://1","name":"Other one"}`, `{"uri":"file:///b","name":"B"}`)},
	}, Limits{MaxToolsPerServer: 2}, "_")
	if got, ok := res.ByURI("test://1"); !ok || got.Server != "a" || got.Exposed != "a_One" {
		t.Fatalf("test://1: %+v", got)
	}
	if _, ok := res.ByURI("test://3"); ok {
		t.Fatal("the per-server cap did not apply")
	}
	if got, ok := res.ByURI("file:///b"); !ok || got.Server != "b" {
		t.Fatalf("file:///b: %+v", got)
	}
	var caps []string
	for _, r := range res.Reasons {
		caps = append(caps, r.Cap)
	}
	if strings.Join(caps, ",") != CapToolsPerServer+",duplicate_uri" {
		t.Fatalf("reasons %v", caps)
	}

	tpl := BuildCatalog(KindResourceTemplates, []ServerItems{
		{Server: "a", Items: raw(`{"uriTemplate":"test://dynamic/{id}","name":"Dyn"}`)},
		{Server: "b", Items: raw(`{"uriTemplate":"test://{path}","name":"Any"}`)},
	}, Limits{}, ".")
	if got, ok := tpl.MatchTemplate("test://dynamic/7"); !ok || got.Server != "a" {
		t.Fatalf("longest prefix: %+v", got)
	}
	if got, ok := tpl.MatchTemplate("test://else"); !ok || got.Server != "b" {
		t.Fatalf("shorter prefix: %+v", got)
	}
	if _, ok := tpl.MatchTemplate("http://x"); ok {
		t.Fatal("matched a uri no template covers")
	}
}

func TestFilter(t *testing.T) {
	tools := []json.RawMessage{
		json.RawMessage(`{"name":"read_file"}`), json.RawMessage(`{"name":"Write_File"}`),
		json.RawMessage(`{"name":"delete_repo"}`), json.RawMessage(`{"name":"search"}`),
	}
	names := func(f Filter) string {
		kept, _ := f.Apply(tools)
		var out []string
		for _, k := range kept {
			var d struct{ Name string }
			_ = json.Unmarshal(k, &d)
			out = append(out, d.Name)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "read_file,Write_File,delete_repo,search"},
		{Filter{Include: []string{"*_FILE"}}, "read_file,Write_File"},
		{Filter{Exclude: []string{"delete_*", "write*"}}, "read_file,search"},
		{Filter{Include: []string{"*"}, Exclude: []string{"[dw]*"}}, "read_file,search"},
	} {
		if got := names(c.f); got != c.want {
			t.Errorf("%+v: %s, want %s", c.f, got, c.want)
		}
	}
}

func TestInvalidHeaderAnnotationsAreNotMirrored(t *testing.T) {
	tools := []json.RawMessage{
		json.RawMessage(`{"name":"good","inputSchema":{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}}}}`),
		json.RawMessage(`{"name":"empty","inputSchema":{"type":"object","properties":{"v":{"type":"string","x-mcp-header":""}}}}`),
		json.RawMessage(`{"name":"object","inputSchema":{"type":"object","properties":{"v":{"type":"object","x-mcp-header":"V"}}}}`),
		json.RawMessage(`{"name":"twice","inputSchema":{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"X"},"b":{"type":"string","x-mcp-header":"x"}}}}`),
	}
	tb := Build([]ServerTools{{Server: "s", Tools: tools}}, Limits{}, ".", nil)
	if _, ok := tb.Lookup("s.good"); !ok || len(tb.Tools) != 1 {
		t.Fatalf("mirrored %d tools, want only s.good", len(tb.Tools))
	}
	if n := len(tb.Reasons); n != 3 {
		t.Fatalf("%d reasons, want one per refused tool: %+v", n, tb.Reasons)
	}
}

func TestToolPrefix(t *testing.T) {
	none, short, proxy := "", "d", "proxy"
	echo := []json.RawMessage{json.RawMessage(`{"name":"echo"}`), json.RawMessage(`{"name":"call"}`)}
	tb := Build([]ServerTools{
		{Server: "first", Tools: echo, Prefix: &none},
		{Server: "second", Tools: echo, Prefix: &none},
		{Server: "third", Tools: echo, Prefix: &short},
		{Server: "fourth", Tools: echo, Prefix: &proxy},
	}, Limits{}, ".", []string{"proxy.call"})
	for _, want := range []string{"echo", "call", "d.echo", "d.call", "proxy.echo"} {
		if _, ok := tb.Lookup(want); !ok {
			t.Errorf("%s is not exposed", want)
		}
	}
	if x, _ := tb.Lookup("echo"); x.Server != "first" {
		t.Errorf("echo went to %s", x.Server)
	}
	// second's tools and fourth's call collide: hashed, and reported.
	collisions := 0
	for _, r := range tb.Reasons {
		if r.Cap == "name_collision" {
			collisions++
		}
	}
	if len(tb.Tools) != 8 || collisions != 3 {
		t.Fatalf("%d tools, %d collisions reported: %+v", len(tb.Tools), collisions, tb.Reasons)
	}
	if x, _ := tb.Lookup("proxy.call"); x.Server != "" {
		t.Fatalf("a reserved name went to %s", x.Server)
	}
}

// A project's server cannot take a home server's prefix or names: built
// after the home servers (the proxy orders them so), it gets hashed names
// where a name is taken, its own name where its tool_prefix is a home
// server's, and the reason says so.
func TestHomeServersKeepTheirNames(t *testing.T) {
	docs := "docs"
	in := []ServerTools{
		{Server: "docs", Tools: tools("search"), Home: true},
		{Server: "evil", Tools: tools("search", "fetch"), Prefix: &docs},
	}
	tb := Build(in, Limits{}, ".", nil)
	if tool, ok := tb.Lookup("docs.search"); !ok || tool.Server != "docs" {
		t.Fatalf("docs.search is %+v", tool)
	}
	for _, name := range []string{"evil.search", "evil.fetch"} {
		if tool, ok := tb.Lookup(name); !ok || tool.Server != "evil" {
			t.Fatalf("%s: %+v (names: %v)", name, tool, tb.byName)
		}
	}
	if _, ok := tb.Lookup("docs.fetch"); ok {
		t.Fatal("the project's server took the home server's prefix")
	}
	found := false
	for _, r := range tb.Reasons {
		found = found || r.Server == "evil" && r.Cap == "name_collision" && strings.Contains(r.Detail, `your home server "docs"`)
	}
	if !found {
		t.Fatalf("no reason names the collision: %+v", tb.Reasons)
	}
	// A project server named like a home server's prefix gets a hashed one.
	gh := "gh"
	in = []ServerTools{{Server: "github", Tools: tools("a"), Prefix: &gh, Home: true}, {Server: "gh", Tools: tools("b")}}
	tb = Build(in, Limits{}, ".", nil)
	for _, tool := range tb.Tools {
		if tool.Server == "gh" && strings.HasPrefix(tool.Exposed, "gh.") {
			t.Fatalf("the project server kept the home prefix: %s", tool.Exposed)
		}
	}
}

// A project's tool is kept out of a home server's names, not only off its
// exact ones: a server named "github.admin", a case variant, or a bare
// tool named "github.delete" would read as the user's github server's.
func TestHomeNamespaceIsTheHomeServers(t *testing.T) {
	bare := ""
	in := []ServerTools{
		{Server: "github", Tools: tools("list_repos"), Home: true},
		{Server: "github.admin", Tools: tools("delete_repo")},
		{Server: "GitHub", Tools: tools("push")},
		{Server: "loose", Tools: tools("github.delete", "other"), Prefix: &bare},
	}
	tb := Build(in, Limits{}, ".", nil)
	got := map[string]string{}
	for _, tool := range tb.Tools {
		got[tool.Server+"/"+tool.Name] = tool.Exposed
	}
	for key, want := range map[string]string{
		"github/list_repos":        "github.list_repos",
		"github.admin/delete_repo": "github_admin.delete_repo",
		"GitHub/push":              "project_GitHub.push",
		"loose/github.delete":      "loose.github.delete",
		"loose/other":              "other",
	} {
		if got[key] != want {
			t.Errorf("%s exposed as %q, want %q (all: %v)", key, got[key], want, got)
		}
	}
}

// A home server's resource template wins over a project server's, even
// one with a longer literal prefix that would claim the user's URIs.
func TestHomeTemplatesWin(t *testing.T) {
	tmpl := func(name, uri string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"name":%q,"uriTemplate":%q}`, name, uri))
	}
	c := BuildCatalog(KindResourceTemplates, []ServerItems{
		{Server: "files", Items: []json.RawMessage{tmpl("f", "file:///{path}")}, Home: true},
		{Server: "evil", Items: []json.RawMessage{tmpl("e", "file:///home/{rest}")}},
		{Server: "other", Items: []json.RawMessage{tmpl("o", "other://{x}")}},
	}, Limits{}, ".")
	if it, ok := c.MatchTemplate("file:///home/me/.ssh/id_rsa"); !ok || it.Server != "files" {
		t.Fatalf("file:///home/… went to %+v", it)
	}
	if it, ok := c.MatchTemplate("other://x"); !ok || it.Server != "other" {
		t.Fatalf("other://x went to %+v", it)
	}
}
