package settings

import (
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	s, warns := Load(env(map[string]string{EnvHome: "/tmp/h"}))
	if len(warns) != 0 {
		t.Fatalf("warnings: %v", warns)
	}
	if s.Home != "/tmp/h" || s.MaxServers != 25 || s.MaxToolsPerServer != 200 || s.MaxTotalTools != 2000 ||
		s.MaxSchemaBytes != 65536 || s.ToolCacheTTL != 300*time.Second || !s.Pooled() ||
		s.IdleTTL != 90*time.Second || s.RequestTimeout != 120*time.Second || s.Separator != "." {
		t.Fatalf("unexpected defaults: %+v", s)
	}
}

func TestToolNameMax(t *testing.T) {
	get := func(v string) (Settings, []string) {
		return Load(func(k string) string {
			if k == EnvToolNameMax {
				return v
			}
			return ""
		})
	}
	if s, w := get(""); s.ToolNameMax != 64 || len(w) != 0 {
		t.Fatalf("default: %d %v", s.ToolNameMax, w)
	}
	if s, _ := get("44"); s.ToolNameMax != 44 {
		t.Fatalf("44: %d", s.ToolNameMax)
	}
	if s, w := get("10"); s.ToolNameMax != MinToolNameMax || len(w) != 1 {
		t.Fatalf("below the floor: %d %v", s.ToolNameMax, w)
	}
}

func TestOverridesAndBadValues(t *testing.T) {
	s, warns := Load(env(map[string]string{
		EnvMaxServers:        "3",
		EnvRequestTimeout:    "0.5",
		EnvDisablePooling:    "1",
		EnvSeparator:         "__",
		EnvMaxTotalTools:     "lots",
		EnvPoolStdio:         "maybe",
		EnvMaxSchemaBytes:    "-1",
		EnvToolCacheTTL:      "x",
		EnvPreferHome:        "true",
		EnvMaxToolsPerServer: "7",
	}))
	if s.MaxServers != 3 || s.RequestTimeout != 500*time.Millisecond || s.Pooled() || s.Separator != "__" ||
		!s.PreferHome || s.MaxToolsPerServer != 7 {
		t.Fatalf("overrides not applied: %+v", s)
	}
	if s.MaxTotalTools != 2000 || !s.PoolStdio || s.MaxSchemaBytes != 65536 || s.ToolCacheTTL != 300*time.Second {
		t.Fatalf("bad values must keep defaults: %+v", s)
	}
	if len(warns) != 4 {
		t.Fatalf("want 4 warnings, got %v", warns)
	}
	if _, w := Load(env(map[string]string{EnvSeparator: "::"})); len(w) != 1 {
		t.Fatalf("a separator outside [A-Za-z0-9_.-] must be refused: %v", w)
	}
}

func TestDataPath(t *testing.T) {
	for v, want := range map[string]string{"": DataPathDirect, "direct": DataPathDirect, "STREAM": DataPathStream, "grpc": DataPathDirect} {
		s, w := Load(env(map[string]string{EnvDataPath: v}))
		if s.DataPath != want || (len(w) != 0) != (v == "grpc") {
			t.Errorf("%q: %q %v, want %q", v, s.DataPath, w, want)
		}
	}
}
