package config

import (
	"reflect"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "alpha", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	cases := []struct {
		in, want string
		missing  []string
	}{
		{"plain", "plain", nil},
		{"${A}", "alpha", nil},
		{"x-${A}-y", "x-alpha-y", nil},
		{"${B:-beta}", "beta", nil},
		{"${EMPTY:-fallback}", "fallback", nil},
		{"${EMPTY}", "", nil},
		{"${A:-unused}", "alpha", nil},
		{"${NOPE}/bin", "/bin", []string{"NOPE"}},
		{"${A}${A}", "alphaalpha", nil},
		{"${unclosed", "${unclosed", nil},
		{"$A stays", "$A stays", nil},
		{"${B:-a:-b}", "a:-b", nil},
	}
	for _, c := range cases {
		got, missing := Expand(c.in, lookup)
		if got != c.want || !reflect.DeepEqual(missing, c.missing) {
			t.Errorf("Expand(%q) = %q, %v; want %q, %v", c.in, got, missing, c.want, c.missing)
		}
	}
}
