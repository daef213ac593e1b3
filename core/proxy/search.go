package proxy

import (
	"encoding/json"
	"sort"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/search"
)

// SearchHit is one result of proxy.search_tools.
type SearchHit struct {
	Server string `json:"server"`
	// Name is the tool's upstream name, for proxy.call.
	Name string `json:"name"`
	// MirroredAs is the exposed name when the tool is mirrored.
	MirroredAs  string          `json:"mirrored_as,omitempty"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"inputSchema,omitempty"`
	Score       float64         `json:"score"`
}

// SearchReport is the answer of proxy.search_tools.
type SearchReport struct {
	Query string `json:"query"`
	// Searched is how many tools were searched: every tool listed by a
	// server, mirrored or not.
	Searched int         `json:"searched"`
	Results  []SearchHit `json:"results"`
}

// searchIndex is built on the first search after the tool lists change,
// not at every change: 25 servers arriving one by one would otherwise
// build it 25 times at start.
type searchIndex struct {
	mu    sync.Mutex
	ix    *search.Index
	tools []json.RawMessage // parallel to the index's documents
}

func (s *searchIndex) invalidate() {
	s.mu.Lock()
	s.ix, s.tools = nil, nil
	s.mu.Unlock()
}

// SearchTools ranks every listed upstream tool for query (BM25 over names
// and descriptions) and returns the best limit.
func (p *Proxy) SearchTools(query string, limit int) SearchReport {
	p.search.mu.Lock()
	if p.search.ix == nil {
		p.mu.RLock()
		servers := make([]string, 0, len(p.lists))
		for name := range p.lists {
			servers = append(servers, name)
		}
		sort.Strings(servers)
		var docs []search.Doc
		var tools []json.RawMessage
		for _, name := range servers {
			for _, t := range p.lists[name] {
				r := gjson.GetManyBytes(t, "name", "description")
				docs = append(docs, search.Doc{Server: name, Name: r[0].Str, Description: r[1].Str})
				tools = append(tools, t)
			}
		}
		p.mu.RUnlock()
		p.search.ix, p.search.tools = search.Build(docs), tools
	}
	ix, tools := p.search.ix, p.search.tools
	p.search.mu.Unlock()

	t := p.Table()
	rep := SearchReport{Query: query, Searched: ix.Len(), Results: []SearchHit{}}
	for _, h := range ix.Search(query, limit) {
		rep.Results = append(rep.Results, SearchHit{
			Server: h.Doc.Server, Name: h.Doc.Name, MirroredAs: t.ExposedName(h.Doc.Server, h.Doc.Name),
			Description: h.Doc.Description, InputSchema: json.RawMessage(gjson.GetBytes(tools[h.Index], "inputSchema").Raw),
			Score: float64(int(h.Score*1000)) / 1000,
		})
	}
	return rep
}
