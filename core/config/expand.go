package config

import "strings"

// Expand replaces ${VAR} and ${VAR:-default} in s. lookup reports a
// variable's value and whether it is set. It returns the names of variables
// that were unset and had no default; they expand to "". A "${" with no
// closing brace is left as it is.
func Expand(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var missing []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		expr := s[i+2 : i+2+j]
		name, def, hasDef := strings.Cut(expr, ":-")
		v, ok := lookup(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			missing = append(missing, name)
		}
		s = s[i+2+j+1:]
	}
	return b.String(), missing
}
