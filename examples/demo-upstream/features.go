package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// addFeatures gives the demo what the proxy's revision tests need of a
// 2026-07-28 server: tools that ask their client for input the stateless
// way (multi round-trip: confirm elicits, ask_model samples, roots asks
// for roots), progress and log messages, a resource and a prompt, and a
// tool list that changes (grow adds a tool). mcp-go serves the same
// handlers to clients of the initialize revisions with server-to-client
// requests.
func addFeatures(s *server.MCPServer) {
	s.AddTool(mcp.NewTool("confirm",
		mcp.WithDescription("Ask the user to confirm (elicitation), then say what they answered."),
		mcp.WithString("question", mcp.Description("What to ask")),
	), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if a := server.ElicitationResponse(req.Params.InputResponses, "confirm"); a != nil {
			return mcp.NewToolResultText(fmt.Sprintf("answer: %s %v (state %s)", a.Action, a.Content, req.Params.RequestState)), nil
		}
		return server.NewInputRequestBuilder("demo-state:"+req.GetString("question", "")).
			Elicit("confirm", mcp.ElicitationParams{
				Mode:    mcp.ElicitationModeForm,
				Message: req.GetString("question", "Proceed?"),
				RequestedSchema: map[string]any{
					"type":       "object",
					"properties": map[string]any{"ok": map[string]any{"type": "boolean"}},
				},
			}).ToolResult(), nil
	})
	s.AddTool(mcp.NewTool("ask_model",
		mcp.WithDescription("Ask the client's model a question (sampling) and return its answer."),
		mcp.WithString("question", mcp.Required()),
	), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if a := server.SamplingResponse(req.Params.InputResponses, "model"); a != nil {
			// The content arrives as decoded JSON, whichever type it is.
			var c struct {
				Text string `json:"text"`
			}
			raw, _ := json.Marshal(a.Content)
			_ = json.Unmarshal(raw, &c)
			return mcp.NewToolResultText("model said: " + c.Text), nil
		}
		return server.NewInputRequestBuilder("").
			Sample("model", mcp.CreateMessageParams{
				Messages:  []mcp.SamplingMessage{{Role: mcp.RoleUser, Content: mcp.NewTextContent(req.GetString("question", ""))}},
				MaxTokens: 20,
			}).ToolResult(), nil
	})
	s.AddTool(mcp.NewTool("roots",
		mcp.WithDescription("List the client's roots."),
	), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if a := server.RootsResponse(req.Params.InputResponses, "roots"); a != nil {
			var uris []string
			for _, r := range a.Roots {
				uris = append(uris, r.URI)
			}
			return mcp.NewToolResultText("roots: " + strings.Join(uris, " ")), nil
		}
		return server.NewInputRequestBuilder("").Roots("roots").ToolResult(), nil
	})
	s.AddTool(mcp.NewTool("count",
		mcp.WithDescription("Count to n, reporting progress and logging each step."),
		mcp.WithNumber("n", mcp.Required()),
	), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		n := int(req.GetFloat("n", 3))
		var token any
		if req.Params.Meta != nil {
			token = req.Params.Meta.ProgressToken
		}
		srv := server.ServerFromContext(ctx)
		for i := 1; i <= n; i++ {
			if token != nil {
				_ = srv.SendNotificationToClient(ctx, "notifications/progress", map[string]any{"progressToken": token, "progress": i, "total": n})
			}
			_ = srv.SendLogMessageToClient(ctx, mcp.NewLoggingMessageNotification(mcp.LoggingLevelInfo, "count", fmt.Sprintf("step %d", i)))
		}
		return mcp.NewToolResultText(fmt.Sprintf("counted to %d", n)), nil
	})
	var grown atomic.Int64
	s.AddTool(mcp.NewTool("grow",
		mcp.WithDescription("Add a tool (grown_N) to this server's list."),
	), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		name := fmt.Sprintf("grown_%d", grown.Add(1))
		s.AddTool(mcp.NewTool(name, mcp.WithDescription("Added by grow.")), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(name), nil
		})
		return mcp.NewToolResultText("added " + name), nil
	})
	s.AddTool(mcp.NewTool("touch",
		mcp.WithDescription("Report demo://greeting as updated (mcp-go's stdio server keeps no subscriptions: to whoever asks)."),
	), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		_ = server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/resources/updated", map[string]any{"uri": "demo://greeting"})
		return mcp.NewToolResultText("touched"), nil
	})
	s.AddResource(mcp.NewResource("demo://greeting", "greeting", mcp.WithMIMEType("text/plain")),
		func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: "demo://greeting", MIMEType: "text/plain", Text: "hello from the demo"}}, nil
		})
	s.AddPrompt(mcp.NewPrompt("greet", mcp.WithPromptDescription("Greet someone."), mcp.WithArgument("who", mcp.RequiredArgument())),
		func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return mcp.NewGetPromptResult("greeting", []mcp.PromptMessage{
				mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("Say hello to "+req.Params.Arguments["who"])),
			}), nil
		})
}
