package mirror

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// What the mirror exposes besides tools: resources, resource templates and
// prompts, each namespaced by server.
//
//   - A prompt is named exactly as a tool is (see naming.go), since
//     clients call it by name (prompts/get) and show it as a command.
//   - A resource keeps its URI, which is how clients read it and how tool
//     results link to it; its display name becomes <server><sep><name>.
//     Two servers offering one URI: the first server (in name order) keeps
//     it, and the reason says so.
//   - A resource template keeps its URI template; reading a URI no listed
//     resource has goes to the server whose template's literal prefix
//     matches it best.
//
// The per-server and total caps apply to each kind on its own.

// CatalogKind names a kind of catalog item.
type CatalogKind string

// The catalog kinds, as the list results name their arrays.
const (
	KindResources         CatalogKind = "resources"
	KindResourceTemplates CatalogKind = "resourceTemplates"
	KindPrompts           CatalogKind = "prompts"
)

// ServerItems is one server's list of one kind, raw, as the upstream sent it.
type ServerItems struct {
	Server string
	Items  []json.RawMessage
	// Prefix names prompts as ServerTools.Prefix names tools.
	Prefix *string
	// Home marks the user's own servers, whose templates win (see
	// MatchTemplate) and whose prompt names a project's server cannot
	// take.
	Home bool
}

// Item is one exposed resource, template or prompt.
type Item struct {
	// Exposed is the name clients see.
	Exposed string `json:"name"`
	Server  string `json:"server"`
	// Name is the upstream's name.
	Name string `json:"upstream_name"`
	// URI is a resource's uri or a template's uriTemplate.
	URI string `json:"uri,omitempty"`
	// Definition is the upstream's object with "name" replaced.
	Definition json.RawMessage `json:"-"`
	// Home marks an item of one of the user's own servers.
	Home bool `json:"-"`
}

// Catalog is the outcome of mirroring one kind.
type Catalog struct {
	Kind    CatalogKind
	Items   []Item
	Reasons []Reason
	byName  map[string]int
	byURI   map[string]int
}

// BuildCatalog exposes the items of servers (in a deterministic order)
// within lim.
func BuildCatalog(kind CatalogKind, servers []ServerItems, lim Limits, sep string) *Catalog {
	c := &Catalog{Kind: kind, byName: map[string]int{}, byURI: map[string]int{}}
	uriKey := "uri"
	if kind == KindResourceTemplates {
		uriKey = "uriTemplate"
	}
	totalCut := map[string]int{}
	var totalOrder []string
	var names *namer
	if kind == KindPrompts {
		owners := make([]owner, len(servers))
		for i, s := range servers {
			owners[i] = owner{server: s.Server, prefix: s.Prefix, home: s.Home}
		}
		names = newNamer(owners, sep, lim.MaxNameLen, nil)
	}
	for _, s := range servers {
		kept, over := 0, 0
		seen := map[string]bool{}
		for i, raw := range s.Items {
			r := gjson.ParseBytes(raw)
			name, uri := r.Get("name").Str, r.Get(uriKey).Str
			if !r.IsObject() || name == "" || (kind != KindPrompts && uri == "") {
				c.Reasons = append(c.Reasons, Reason{Server: s.Server, Cap: "invalid_item",
					Detail: fmt.Sprintf("%s #%d has no name or %s", kind, i, uriKey)})
				continue
			}
			var exposed string
			switch kind {
			case KindPrompts:
				if seen[name] {
					c.Reasons = append(c.Reasons, Reason{Server: s.Server, Cap: "duplicate_prompt",
						Detail: fmt.Sprintf("prompt %q is listed twice; the first is mirrored", name)})
					continue
				}
				seen[name] = true
			default:
				exposed = s.Server + sep + name
				if j, taken := c.byURI[uri]; taken {
					c.Reasons = append(c.Reasons, Reason{Server: s.Server, Cap: "duplicate_uri",
						Detail: fmt.Sprintf("%s %s is also offered by %q, which keeps it", uriKey, uri, c.Items[j].Server)})
					continue
				}
			}
			if lim.MaxToolsPerServer > 0 && kept >= lim.MaxToolsPerServer {
				over++
				continue
			}
			if lim.MaxTotalTools > 0 && len(c.Items) >= lim.MaxTotalTools {
				if totalCut[s.Server] == 0 {
					totalOrder = append(totalOrder, s.Server)
				}
				totalCut[s.Server]++
				continue
			}
			if kind == KindPrompts {
				var why []Reason
				exposed, why = names.name(owner{server: s.Server, prefix: s.Prefix, home: s.Home}, "prompt", name)
				c.Reasons = append(c.Reasons, why...)
				if exposed == "" {
					continue
				}
			}
			def, err := rename(raw, exposed)
			if err != nil {
				continue
			}
			kept++
			c.byName[exposed] = len(c.Items)
			if kind != KindPrompts {
				c.byURI[uri] = len(c.Items)
			}
			c.Items = append(c.Items, Item{Exposed: exposed, Server: s.Server, Name: name, URI: uri, Definition: def, Home: s.Home})
		}
		if over > 0 {
			c.Reasons = append(c.Reasons, Reason{Server: s.Server, Cap: CapToolsPerServer, Limit: lim.MaxToolsPerServer,
				Detail: fmt.Sprintf("%d %s over the per-server cap not mirrored", over, kind)})
		}
	}
	for _, s := range totalOrder {
		c.Reasons = append(c.Reasons, Reason{Server: s, Cap: CapTotalTools, Limit: lim.MaxTotalTools,
			Detail: fmt.Sprintf("%d %s not mirrored: the total cap was reached", totalCut[s], kind)})
	}
	return c
}

// Lookup finds an item by its exposed name.
func (c *Catalog) Lookup(name string) (Item, bool) {
	if c == nil {
		return Item{}, false
	}
	i, ok := c.byName[name]
	if !ok {
		return Item{}, false
	}
	return c.Items[i], true
}

// ByURI finds a resource by its URI.
func (c *Catalog) ByURI(uri string) (Item, bool) {
	if c == nil {
		return Item{}, false
	}
	i, ok := c.byURI[uri]
	if !ok {
		return Item{}, false
	}
	return c.Items[i], true
}

// MatchTemplate returns the template whose literal prefix (up to its first
// expression) is the longest prefix of uri; a home server's template that
// matches wins over any project server's, which could otherwise claim the
// user's URIs with a longer prefix.
func (c *Catalog) MatchTemplate(uri string) (Item, bool) {
	if c == nil {
		return Item{}, false
	}
	best, bestLen, bestHome := -1, -1, false
	for i, it := range c.Items {
		prefix, _, _ := strings.Cut(it.URI, "{")
		if !strings.HasPrefix(uri, prefix) || bestHome && !it.Home {
			continue
		}
		if len(prefix) > bestLen || it.Home && !bestHome {
			best, bestLen, bestHome = i, len(prefix), it.Home
		}
	}
	if best < 0 {
		return Item{}, false
	}
	return c.Items[best], true
}
