// Package search ranks upstream tools for a query with BM25 over their
// names and descriptions, so that an agent can find, among thousands of
// tools (mirrored or not), the few it needs and call them with
// proxy.call. An Index is built once per change of the tool lists and
// read by any number of searches.
package search

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// BM25 parameters: the usual ones.
const (
	k1 = 1.2
	b  = 0.75
	// nameWeight counts a word of the tool's name as this many words of
	// its description: names are short and chosen with care.
	nameWeight = 3
)

// Doc is one tool to index.
type Doc struct {
	Server, Name, Description string
}

// Index is an immutable BM25 index.
type Index struct {
	docs     []Doc
	lengths  []float64
	avgLen   float64
	postings map[string][]posting
}

type posting struct {
	doc int
	tf  float64
}

// Build indexes docs.
func Build(docs []Doc) *Index {
	ix := &Index{docs: docs, lengths: make([]float64, len(docs)), postings: map[string][]posting{}}
	total := 0.0
	for i, d := range docs {
		tf := map[string]float64{}
		for _, t := range Tokens(d.Name) {
			tf[t] += nameWeight
		}
		for _, t := range Tokens(d.Server) {
			tf[t]++
		}
		for _, t := range Tokens(d.Description) {
			tf[t]++
		}
		length := 0.0
		for t, n := range tf {
			ix.postings[t] = append(ix.postings[t], posting{doc: i, tf: n})
			length += n
		}
		ix.lengths[i] = length
		total += length
	}
	if len(docs) > 0 {
		ix.avgLen = total / float64(len(docs))
	}
	return ix
}

// Len is the number of documents.
func (ix *Index) Len() int { return len(ix.docs) }

// Hit is a ranked document.
type Hit struct {
	Doc   Doc
	Index int
	Score float64
}

// Search returns at most limit documents matching any word of query, best
// first (ties by server and name, so results are stable).
func (ix *Index) Search(query string, limit int) []Hit {
	n := float64(len(ix.docs))
	scores := make([]float64, len(ix.docs))
	var touched []int
	seen := map[string]bool{}
	for _, t := range Tokens(query) {
		if seen[t] {
			continue
		}
		seen[t] = true
		ps := ix.postings[t]
		if len(ps) == 0 {
			continue
		}
		idf := math.Log(1 + (n-float64(len(ps))+0.5)/(float64(len(ps))+0.5))
		for _, p := range ps {
			if scores[p.doc] == 0 {
				touched = append(touched, p.doc)
			}
			scores[p.doc] += idf * p.tf * (k1 + 1) / (p.tf + k1*(1-b+b*ix.lengths[p.doc]/ix.avgLen))
		}
	}
	hits := make([]Hit, 0, len(touched))
	for _, d := range touched {
		hits = append(hits, Hit{Doc: ix.docs[d], Index: d, Score: scores[d]})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		if hits[i].Doc.Server != hits[j].Doc.Server {
			return hits[i].Doc.Server < hits[j].Doc.Server
		}
		return hits[i].Doc.Name < hits[j].Doc.Name
	})
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	return hits
}

// Tokens splits text into lowercase words: at anything not a letter or
// digit, and inside names at case changes (readFile, HTTPServer) and
// underscores, so that "read_file", "readFile" and "read a file" share
// words. A plural s is dropped ("files" finds "file").
func Tokens(text string) []string {
	var out []string
	var word []rune
	flush := func() {
		if len(word) > 0 {
			out = append(out, stem(strings.ToLower(string(word))))
			word = word[:0]
		}
	}
	rs := []rune(text)
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if len(word) > 0 && unicode.IsUpper(r) {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || (unicode.IsUpper(prev) && nextLower) {
					flush()
				}
			}
			word = append(word, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

func stem(w string) string {
	if len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") {
		return w[:len(w)-1]
	}
	return w
}
