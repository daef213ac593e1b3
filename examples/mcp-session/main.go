// Command ica-mcp-session is a small MCP client (mcp-go's, over stdio) used by
// the README demo: it starts a server command, lists its tools and calls one.
//
//	ica-mcp-session -call demo.add -args '{"a":2,"b":40}' -- ica-mcp-proxy
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

func main() {
	tool := flag.String("call", "", "tool to call after listing")
	args := flag.String("args", "{}", "the call's arguments, a JSON object")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: ica-mcp-session [-call TOOL -args JSON] -- COMMAND [ARG...]")
		os.Exit(2)
	}
	if err := run(flag.Args(), *tool, *args); err != nil {
		fmt.Fprintln(os.Stderr, "ica-mcp-session:", err)
		os.Exit(1)
	}
}

func run(command []string, tool, args string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.NewStdioMCPClient(command[0], os.Environ(), command[1:]...)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	start := time.Now()
	init, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: mcp.LATEST_LEGACY_PROTOCOL_VERSION,
		ClientInfo:      mcp.Implementation{Name: "ica-mcp-session", Version: "1"},
	}})
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	fmt.Printf("connected to %s %s (initialize answered in %s)\n\n", init.ServerInfo.Name, init.ServerInfo.Version, time.Since(start).Round(time.Millisecond))

	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return fmt.Errorf("tools/list: %w", err)
	}
	fmt.Printf("tools/list: %d tools\n", len(tools.Tools))
	for _, t := range tools.Tools {
		fmt.Printf("  %-26s %s\n", t.Name, clip(t.Description, 70))
	}
	if tool == "" {
		return nil
	}
	var a map[string]any
	if err := json.Unmarshal([]byte(args), &a); err != nil {
		return fmt.Errorf("-args: %w", err)
	}
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: a}})
	if err != nil {
		return fmt.Errorf("tools/call %s: %w", tool, err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Printf("\ntools/call %s %s:\n%s\n", tool, args, out)
	if res.IsError {
		return fmt.Errorf("%s returned an error", tool)
	}
	return nil
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
