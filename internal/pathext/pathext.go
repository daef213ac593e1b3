// Package pathext reads Windows' PATHEXT: the extensions, in order, that
// Windows tries on a command named without one. The stdio transport's
// lookup and trust's record of a project's command files both use it, so
// both see the same candidates.
package pathext

import "strings"

// Default is what Windows uses when PATHEXT is unset.
const Default = ".COM;.EXE;.BAT;.CMD"

// Split returns the extensions of pathext (";"-separated; Default when
// empty), lower-cased and each with its leading dot.
func Split(pathext string) []string {
	if pathext == "" {
		pathext = Default
	}
	var exts []string
	for _, e := range strings.Split(strings.ToLower(pathext), ";") {
		if e == "" {
			continue
		}
		if e[0] != '.' {
			e = "." + e
		}
		exts = append(exts, e)
	}
	return exts
}
