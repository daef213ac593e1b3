// Package settings reads the proxy's tunables from the environment. The names
// and defaults are those of the original ica-mcp-proxy, so a user switching
// keeps their setup.
package settings

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Settings are the proxy's tunables.
type Settings struct {
	// Home is $ICA_HOME, default ~/.ica.
	Home string

	// Guardrails on mirroring.
	MaxServers        int
	MaxToolsPerServer int
	MaxTotalTools     int
	MaxSchemaBytes    int

	// ToolCacheTTL is how long an upstream's tool list is reused.
	ToolCacheTTL time.Duration
	// PoolStdio and DisablePooling decide whether upstream sessions are
	// kept between calls.
	PoolStdio      bool
	DisablePooling bool
	// IdleTTL closes a pooled session unused that long.
	IdleTTL time.Duration
	// RequestTimeout bounds one request to an upstream.
	RequestTimeout time.Duration
	// ListWait bounds how long tools/list waits for upstreams still
	// starting before it answers without them.
	ListWait time.Duration
	// PluginStartTimeout bounds a plugin's start and Info call.
	PluginStartTimeout time.Duration
	// Start says when a server whose tools the tool cache knows is
	// started: StartLazy (when something needs it) or StartEager (with
	// the proxy). A server entry's "start" overrides it.
	Start string
	// UpstreamRevision says which revision each upstream is asked in
	// first: UpstreamRevisionClient (the client's own, so that a server
	// speaking both is not bridged), UpstreamRevisionStateless or
	// UpstreamRevisionInitialize.
	UpstreamRevision string
	// DataPath says where the messages of upstream sessions travel:
	// DataPathDirect (off the plugins' gRPC streams, where the plugin can
	// pass descriptors) or DataPathStream (on them, always).
	DataPath string

	// SchemaCompat rewrites mirrored input schemas that strict clients
	// refuse ($ref, top-level oneOf/anyOf/allOf) and checks arguments
	// against the originals.
	SchemaCompat bool
	// ToolNameMax is the longest name a mirrored tool, resource or prompt
	// gets (ICA_MCP_PROXY_TOOL_NAME_MAX): a runtime prefixes each name and
	// its model API checks the whole.
	ToolNameMax int

	// MirrorNone exposes only the proxy.* tools (ICA_MCP_PROXY_MIRROR=none),
	// for clients with small tool limits.
	MirrorNone bool

	// Separator joins server and tool in mirrored names ("." by default).
	Separator string
	// PreferHome makes $ICA_HOME's config win over the project's.
	PreferHome bool
	// InheritEnv passes the proxy's whole environment to stdio upstreams.
	InheritEnv bool
	// LogLevel is the hclog level name.
	LogLevel string
	// StrictTrust blocks the project's command servers until the project
	// is trusted; AllowProjectStdio lifts that for one shell.
	StrictTrust       bool
	AllowProjectStdio bool
}

// Env var names.
const (
	EnvHome              = "ICA_HOME"
	EnvMaxServers        = "ICA_MCP_PROXY_MAX_SERVERS"
	EnvMaxToolsPerServer = "ICA_MCP_PROXY_MAX_TOOLS_PER_SERVER"
	EnvMaxTotalTools     = "ICA_MCP_PROXY_MAX_TOTAL_TOOLS"
	EnvMaxSchemaBytes    = "ICA_MCP_PROXY_MAX_SCHEMA_BYTES"
	EnvToolCacheTTL      = "ICA_MCP_PROXY_TOOL_CACHE_TTL_S"
	EnvPoolStdio         = "ICA_MCP_PROXY_POOL_STDIO"
	EnvDisablePooling    = "ICA_MCP_PROXY_DISABLE_POOLING"
	EnvIdleTTL           = "ICA_MCP_PROXY_UPSTREAM_IDLE_TTL_S"
	EnvRequestTimeout    = "ICA_MCP_PROXY_UPSTREAM_REQUEST_TIMEOUT_S"
	EnvListWait          = "ICA_MCP_PROXY_LIST_WAIT_S"
	EnvPluginStart       = "ICA_MCP_PROXY_PLUGIN_START_TIMEOUT_S"
	EnvStart             = "ICA_MCP_PROXY_START"
	EnvDataPath          = "ICA_MCP_PROXY_DATA_PATH"
	EnvUpstreamRevision  = "ICA_MCP_PROXY_UPSTREAM_REVISION"
	EnvMirror            = "ICA_MCP_PROXY_MIRROR"
	EnvSchemaCompat      = "ICA_MCP_PROXY_SCHEMA_COMPAT"
	EnvToolNameMax       = "ICA_MCP_PROXY_TOOL_NAME_MAX"
	EnvSeparator         = "ICA_MCP_PROXY_TOOL_SEPARATOR"
	EnvPreferHome        = "ICA_MCP_CONFIG_PREFER_HOME"
	EnvInheritEnv        = "ICA_MCP_PROXY_INHERIT_ENV"
	EnvLogLevel          = "ICA_LOG_LEVEL"
	EnvStrictTrust       = "ICA_MCP_STRICT_TRUST"
	EnvAllowProjectStdio = "ICA_MCP_ALLOW_PROJECT_STDIO"
	// EnvHub set to "on" makes serve hand its session to the user's hub
	// (in development: off by default until the hub shares upstreams).
	EnvHub = "ICA_MCP_PROXY_HUB"
	// EnvHubLinger is how long, in seconds, a hub with no session stays.
	EnvHubLinger = "ICA_MCP_PROXY_HUB_LINGER"
)

// Load reads the settings through getenv (os.Getenv in production). A value
// that does not parse keeps the default and yields a warning naming it.
func Load(getenv func(string) string) (Settings, []string) {
	r := reader{getenv: getenv}
	s := Settings{
		Home:               r.home(),
		MaxServers:         r.int(EnvMaxServers, 25),
		MaxToolsPerServer:  r.int(EnvMaxToolsPerServer, 200),
		MaxTotalTools:      r.int(EnvMaxTotalTools, 2000),
		MaxSchemaBytes:     r.int(EnvMaxSchemaBytes, 65536),
		ToolCacheTTL:       r.seconds(EnvToolCacheTTL, 300),
		PoolStdio:          r.bool(EnvPoolStdio, true),
		DisablePooling:     r.bool(EnvDisablePooling, false),
		IdleTTL:            r.seconds(EnvIdleTTL, 90),
		RequestTimeout:     r.seconds(EnvRequestTimeout, 120),
		ListWait:           r.seconds(EnvListWait, 10),
		PluginStartTimeout: r.seconds(EnvPluginStart, 10),
		Start:              r.oneOf(EnvStart, StartLazy, StartEager),
		DataPath:           r.oneOf(EnvDataPath, DataPathDirect, DataPathStream),
		UpstreamRevision:   r.oneOf(EnvUpstreamRevision, UpstreamRevisionClient, UpstreamRevisionStateless, UpstreamRevisionInitialize),
		Separator:          r.separator(),
		MirrorNone:         r.mirrorNone(),
		SchemaCompat:       r.bool(EnvSchemaCompat, false),
		ToolNameMax:        r.nameMax(),
		PreferHome:         r.bool(EnvPreferHome, false),
		InheritEnv:         r.bool(EnvInheritEnv, false),
		LogLevel:           strings.ToLower(strings.TrimSpace(getenv(EnvLogLevel))),
		StrictTrust:        r.bool(EnvStrictTrust, false),
		AllowProjectStdio:  r.bool(EnvAllowProjectStdio, false),
	}
	if s.LogLevel == "" {
		s.LogLevel = "info"
	}
	return s, r.warnings
}

// MinToolNameMax is the shortest name budget the proxy accepts: the
// broker tools' names (proxy__mirror_status is 20 characters) fit it.
const MinToolNameMax = 24

// DefaultToolNameMax is the name budget when none is set: the longest tool
// name the Anthropic and OpenAI APIs take, without a runtime's prefix.
const DefaultToolNameMax = 64

// nameMax reads the longest mirrored name (64 by default), at least
// MinToolNameMax.
func (r *reader) nameMax() int {
	n := r.int(EnvToolNameMax, DefaultToolNameMax)
	if n < MinToolNameMax {
		r.warnings = append(r.warnings, fmt.Sprintf("%s=%d is below %d (the proxy.* names must fit); using %d", EnvToolNameMax, n, MinToolNameMax, MinToolNameMax))
		return MinToolNameMax
	}
	return n
}

// The values of Start.
const (
	StartLazy  = "lazy"
	StartEager = "eager"
)

// oneOf reads name as one of its values, lower-cased; unset, or a value
// not among them (with a warning), is the first.
func (r *reader) oneOf(name string, values ...string) string {
	v := strings.ToLower(strings.TrimSpace(r.getenv(name)))
	if v == "" || slices.Contains(values, v) {
		return cmp.Or(v, values[0])
	}
	r.warn(name, v, strings.Join(values, " or "))
	return values[0]
}

// The values of UpstreamRevision.
const (
	UpstreamRevisionClient     = "client"
	UpstreamRevisionStateless  = "stateless"
	UpstreamRevisionInitialize = "initialize"
)

// The values of DataPath.
const (
	DataPathDirect = "direct"
	DataPathStream = "stream"
)

// Pooled reports whether upstream sessions are kept between calls.
func (s Settings) Pooled() bool { return s.PoolStdio && !s.DisablePooling }

type reader struct {
	getenv   func(string) string
	warnings []string
}

func (r *reader) warn(name, value, want string) {
	r.warnings = append(r.warnings, fmt.Sprintf("%s=%q is not %s; using the default", name, value, want))
}

func (r *reader) int(name string, def int) int {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		r.warn(name, v, "a whole number ≥ 0")
		return def
	}
	return n
}

func (r *reader) seconds(name string, def float64) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	f := def
	if v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 {
			r.warn(name, v, "a number of seconds ≥ 0")
		} else {
			f = n
		}
	}
	return time.Duration(f * float64(time.Second))
}

func (r *reader) bool(name string, def bool) bool {
	v := strings.ToLower(strings.TrimSpace(r.getenv(name)))
	switch v {
	case "":
		return def
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	r.warn(name, v, "a boolean (1/0, true/false)")
	return def
}

func (r *reader) mirrorNone() bool {
	switch v := strings.ToLower(strings.TrimSpace(r.getenv(EnvMirror))); v {
	case "", "all":
		return false
	case "none":
		return true
	default:
		r.warn(EnvMirror, v, "all or none")
		return false
	}
}

func (r *reader) separator() string {
	v := r.getenv(EnvSeparator)
	if v == "" {
		return "."
	}
	for _, c := range v {
		if !IsNameChar(c) {
			r.warn(EnvSeparator, v, "made of [A-Za-z0-9_.-]")
			return "."
		}
	}
	return v
}

func (r *reader) home() string {
	if h := r.getenv(EnvHome); h != "" {
		if strings.HasPrefix(h, "~/") {
			if uh, err := os.UserHomeDir(); err == nil {
				h = filepath.Join(uh, h[2:])
			}
		}
		if abs, err := filepath.Abs(h); err == nil {
			return abs
		}
		return h
	}
	uh, err := os.UserHomeDir()
	if err != nil {
		uh = "."
	}
	return filepath.Join(uh, ".ica")
}

// IsNameChar reports whether c may appear in a tool name MCP clients accept.
func IsNameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}
