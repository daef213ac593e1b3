package streamablehttp

import (
	"bytes"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
)

// From 2026-07-28 a tool may ask for some of its arguments in HTTP headers
// too (x-mcp-header in its input schema), for gateways that route on them.
// The session learns which tools do from the answers to tools/list that
// pass through it, and adds those Mcp-Param-* headers to their calls.

// noteHeaderTools remembers the tools of a tools/list answer that annotate
// parameters with x-mcp-header.
func (s *session) noteHeaderTools(data []byte) {
	if !bytes.Contains(data, []byte(`"x-mcp-header"`)) {
		return
	}
	var answer struct {
		Result struct {
			Tools []mcp.Tool `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range answer.Result.Tools {
		tool := &answer.Result.Tools[i]
		if len(mcp.ExtractParamHeaderBindings(tool)) == 0 || mcp.ValidateParamHeaderAnnotations(tool) != nil {
			continue
		}
		if s.headerTools == nil {
			s.headerTools = map[string]*mcp.Tool{}
		}
		s.headerTools[tool.Name] = tool
	}
}

func (s *session) headerTool(name string) *mcp.Tool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headerTools[name]
}
