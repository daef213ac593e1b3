package search

import "fmt"

// Fleet makes a synthetic set of tools (servers × each), with names and
// descriptions drawn from a small vocabulary, for benchmarks.
func Fleet(servers, each int) []Doc {
	verbs := []string{"create", "list", "get", "update", "delete", "search", "read", "write", "send", "sync"}
	nouns := []string{"issue", "file", "user", "message", "event", "record", "report", "ticket", "page", "invoice", "order", "build", "deploy", "secret", "table", "query", "image", "note", "task", "comment"}
	var out []Doc
	for s := range servers {
		for i := range each {
			v, n := verbs[i%len(verbs)], nouns[(i/len(verbs))%len(nouns)]
			out = append(out, Doc{
				Server:      fmt.Sprintf("server%d", s),
				Name:        fmt.Sprintf("%s_%s_%d", v, n, i),
				Description: fmt.Sprintf("%s a %s in the %s system of server %d; returns the %s as JSON with its id, owner and history.", v, n, nouns[(i+s)%len(nouns)], s, n),
			})
		}
	}
	return out
}
