package mirror

import (
	"fmt"
	"strings"
)

// The names clients call things by. Tools and prompts are both called by
// name, so both follow one rule:
//
//   - <server><sep><name> by default; an entry's prefix replaces the
//     server's name, and an empty prefix leaves the upstream's own name.
//   - A project's server never gets a name among a home server's
//     (github.admin.delete_repo beside the user's github.*); it is named
//     outside them instead, and a reason says so.
//   - A name already taken (by the proxy's own tools, or by a server
//     earlier in the order, home servers first) gets a stable hash suffix.
//   - Names are cut to the budget with a hash suffix.

// owner is what naming needs of a server.
type owner struct {
	server string
	prefix *string
	home   bool
}

// prefixOf is the exposed names' prefix, sanitized; "" for bare names.
func (o owner) prefixOf(sep string) string {
	switch {
	case o.prefix == nil:
		return Sanitize(o.server, sep)
	case *o.prefix == "":
		return ""
	}
	return Sanitize(*o.prefix, sep)
}

// exposedName is the name item of o gets before collisions are resolved.
func (o owner) exposedName(item, sep string, max int) string {
	switch {
	case o.prefix == nil:
		return Join(o.server, item, sep, max)
	case *o.prefix == "":
		if name := Sanitize(item, sep); len(name) <= nameMax(max) {
			return name
		}
		return Hashed(Sanitize(item, sep), o.server, item, max)
	}
	name := Sanitize(*o.prefix, sep) + sep + Sanitize(item, sep)
	if len(name) <= nameMax(max) {
		return name
	}
	return Hashed(name, o.server, item, max)
}

// homeSpace is the names under the home servers' prefixes: a project's
// item exposed there would read, to a model, as the user's own server's.
type homeSpace struct {
	sep    string
	owners map[string]string // lower-case prefix → home server
}

func newHomeSpace(owners []owner, sep string) homeSpace {
	h := homeSpace{sep: sep, owners: map[string]string{}}
	for _, o := range owners {
		if p := o.prefixOf(sep); o.home && p != "" {
			h.owners[strings.ToLower(p)] = o.server
		}
	}
	return h
}

// owner is the home server whose names name falls among, or "".
func (h homeSpace) owner(name string) string {
	lower := strings.ToLower(name)
	for p, owner := range h.owners {
		if lower == p || strings.HasPrefix(lower, p+h.sep) {
			return owner
		}
	}
	return ""
}

// outside is the name a project's item gets instead of one among a home
// server's: its own server's name, with the separator taken out of it so
// that it cannot spell another prefix, before the item's.
func (h homeSpace) outside(o owner, item string, max int) string {
	own := strings.ReplaceAll(Sanitize(o.server, h.sep), h.sep, "_")
	if h.owner(own) != "" {
		own = "project_" + own
	}
	name := own + h.sep + Sanitize(item, h.sep)
	if len(name) > nameMax(max) {
		name = Hashed(name, o.server, item, max)
	}
	return name
}

// namer names the items of one kind, in order, each name once.
type namer struct {
	sep   string
	max   int
	home  homeSpace
	taken map[string]bool
}

// newNamer names items of owners (every server being named, for the home
// space); reserved names are never given out.
func newNamer(owners []owner, sep string, max int, reserved []string) *namer {
	n := &namer{sep: sep, max: max, home: newHomeSpace(owners, sep), taken: make(map[string]bool, len(reserved))}
	for _, r := range reserved {
		n.taken[r] = true
	}
	return n
}

// name gives item (a tool or prompt, as kind says) of o its exposed name,
// with the reasons it is not the plain one; "" when no name is left
// (only a hash collision), and the item must not be exposed.
func (n *namer) name(o owner, kind, item string) (string, []Reason) {
	var why []Reason
	name := o.exposedName(item, n.sep, n.max)
	if home := n.home.owner(name); home != "" && !o.home {
		first := name
		name = n.home.outside(o, item, n.max)
		why = append(why, Reason{Server: o.server, Cap: "name_collision",
			Detail: fmt.Sprintf("%s %q: %q is among your home server %q's names; exposed as %q", kind, item, first, home, name)})
	}
	if n.taken[name] {
		first := name
		name = Hashed(name, o.server, item, n.max)
		why = append(why, Reason{Server: o.server, Cap: "name_collision",
			Detail: fmt.Sprintf("%s %q: %q was taken; exposed as %q", kind, item, first, name)})
	}
	if n.taken[name] {
		return "", append(why, Reason{Server: o.server, Cap: "name_collision",
			Detail: fmt.Sprintf("%s %q: name %q already taken", kind, item, name)})
	}
	n.taken[name] = true
	return name, why
}
