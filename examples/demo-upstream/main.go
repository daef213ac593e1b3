// Command ica-demo-upstream is a small MCP server used by the README demo
// and the benchmarks: it needs no Node. Its tools: echo, add and sleep
// (and argv, given arguments after its flags);
// with ICA_DEMO_FEATURES=1 also what the revision tests need (features.go).
// It speaks stdio, or streamable HTTP at /mcp with -http ADDR, in every
// revision mcp-go does (2024-11-05 to 2026-07-28).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

func main() {
	httpAddr := flag.String("http", "", "serve streamable HTTP at /mcp on this address (127.0.0.1:0 picks a port) instead of stdio; the URL is printed on stdout")
	flag.Parse()
	opts := []server.ServerOption{server.WithToolCapabilities(false)}
	if os.Getenv("ICA_DEMO_FEATURES") != "" {
		opts = []server.ServerOption{server.WithToolCapabilities(true), server.WithResourceCapabilities(true, true),
			server.WithPromptCapabilities(true), server.WithLogging(), server.WithElicitation()}
	}
	if ttl, err := strconv.ParseInt(os.Getenv("ICA_DEMO_TTL_MS"), 10, 64); err == nil {
		// How long its lists stay fresh, said to 2026-07-28 clients
		// (mcp-go says 0, "revalidate every time", otherwise).
		opts = append(opts, server.WithCacheHints(ttl, mcp.CacheScopePrivate))
	}
	s := server.NewMCPServer("ica-demo-upstream", "1.0.0", opts...)
	// Tests give the tools long names (to try name budgets) with a suffix.
	suffix := os.Getenv("ICA_DEMO_NAME_SUFFIX")
	echoDescription := "Return the message unchanged."
	if d := os.Getenv("ICA_DEMO_ECHO_DESCRIPTION"); d != "" {
		echoDescription = d // lets tests change a tool under the proxy
	}
	s.AddTool(mcp.NewTool("echo"+suffix,
		mcp.WithDescription(echoDescription),
		mcp.WithString("message", mcp.Required(), mcp.Description("What to echo")),
	), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(req.GetString("message", "")), nil
	})
	s.AddTool(mcp.NewTool("add"+suffix,
		mcp.WithDescription("Add two numbers; the sum is also returned as structured content."),
		mcp.WithNumber("a", mcp.Required()),
		mcp.WithNumber("b", mcp.Required()),
		mcp.WithOutputSchema[struct {
			Sum float64 `json:"sum"`
		}](),
	), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		sum := req.GetFloat("a", 0) + req.GetFloat("b", 0)
		return mcp.NewToolResultStructured(map[string]float64{"sum": sum}, fmt.Sprint(sum)), nil
	})
	s.AddTool(mcp.NewTool("sleep"+suffix,
		mcp.WithDescription("Wait for ms milliseconds, then answer; stops early when cancelled."),
		mcp.WithNumber("ms", mcp.Required()),
	), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		select {
		case <-time.After(time.Duration(req.GetFloat("ms", 0)) * time.Millisecond):
			return mcp.NewToolResultText("slept"), nil
		case <-ctx.Done():
			// Said on stderr so one can see the proxy pass cancellations
			// on (the end-to-end tests look for this line).
			fmt.Fprintln(os.Stderr, "demo-upstream: sleep cancelled:", ctx.Err())
			return nil, ctx.Err()
		}
	})
	if args := flag.Args(); len(args) > 0 {
		// Tests see what arrived of the arguments they configured (a
		// batch file in between, on Windows, must not change them).
		s.AddTool(mcp.NewTool("argv"+suffix, mcp.WithDescription("Return the arguments this server was started with, as JSON.")),
			func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return mcp.NewToolResultStructured(map[string][]string{"args": args}, strings.Join(args, "\n")), nil
			})
	}
	addSyntheticTools(s, os.Getenv("ICA_DEMO_EXTRA_TOOLS"))
	if os.Getenv("ICA_DEMO_FEATURES") != "" {
		addFeatures(s)
	}
	if *httpAddr != "" {
		// Port 0 picks a free port; the URL goes to stdout for scripts.
		l, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ica-demo-upstream:", err)
			os.Exit(1)
		}
		fmt.Printf("http://%s/mcp\n", l.Addr())
		mux := http.NewServeMux()
		mux.Handle("/mcp", server.NewStreamableHTTPServer(s))
		if err := http.Serve(l, mux); err != nil {
			fmt.Fprintln(os.Stderr, "ica-demo-upstream:", err)
			os.Exit(1)
		}
		return
	}
	if err := server.ServeStdio(s); err != nil {
		fmt.Fprintln(os.Stderr, "ica-demo-upstream:", err)
		os.Exit(1)
	}
}

// addSyntheticTools adds n tools with varied names and descriptions
// (ICA_DEMO_EXTRA_TOOLS=n), for the benchmarks of large tool sets. Each
// answers with its own name.
func addSyntheticTools(s *server.MCPServer, n string) {
	count, _ := strconv.Atoi(n)
	verbs := []string{"create", "list", "get", "update", "delete", "search", "read", "write", "send", "sync"}
	nouns := []string{"issue", "file", "user", "message", "event", "record", "report", "ticket", "page", "invoice", "order", "build", "deploy", "secret", "table", "query", "image", "note", "task", "comment"}
	for i := range count {
		v, o := verbs[i%len(verbs)], nouns[(i/len(verbs))%len(nouns)]
		name := fmt.Sprintf("%s_%s_%d", v, o, i)
		s.AddTool(mcp.NewTool(name,
			mcp.WithDescription(fmt.Sprintf("%s a %s in the %s system; returns the %s as JSON with its id, owner and history.", v, o, nouns[(i*7)%len(nouns)], o)),
			mcp.WithString("id", mcp.Description("The "+o+"'s id.")),
			mcp.WithString("query", mcp.Description("Words to match.")),
		), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(name), nil
		})
	}
}
