package frontend

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// The client chooses its protocol revision request by request. The
// initialize revisions (2024-11-05 to 2025-11-25) fix it once per process;
// from 2026-07-28 on there is no handshake and each request names its
// revision, capabilities and identity in params._meta. A client may mix
// the two in one process: each request is served as it says.

// gjson paths of the per-request members, relative to params._meta.
const (
	metaVersion  = `io\.modelcontextprotocol/protocolVersion`
	metaCaps     = `io\.modelcontextprotocol/clientCapabilities`
	metaLogLevel = `io\.modelcontextprotocol/logLevel`
)

// revision is what one request says about its protocol revision.
type revision struct {
	// version is the revision the request's _meta names, if any.
	version string
	// modern is set for a request of 2026-07-28 or later.
	modern bool
	// caps are the client capabilities a modern request declares (raw).
	caps json.RawMessage
	// logLevel is the lowest level of log messages a modern request wants;
	// empty: none.
	logLevel string
}

// readRevision reads the revision members of a request's params.
func readRevision(params json.RawMessage) revision {
	// Most requests name no revision: a substring search settles it
	// before any parsing.
	if len(params) == 0 || params[0] != '{' || !bytes.Contains(params, []byte("io.modelcontextprotocol/protocolVersion")) {
		return revision{}
	}
	meta := gjson.GetBytes(params, "_meta")
	if !meta.IsObject() {
		return revision{}
	}
	r := meta.Get(metaVersion)
	rev := revision{version: r.Str}
	if r.Type != gjson.String || !mcp.IsModernProtocol(r.Str) {
		return rev
	}
	rev.modern = true
	if c := meta.Get(metaCaps); c.IsObject() {
		rev.caps = json.RawMessage(c.Raw)
	}
	rev.logLevel = meta.Get(metaLogLevel).Str
	return rev
}

// revisionError is the JSON-RPC error a modern request gets when it cannot
// be served at all, or nil. These are the 2026-07-28 rules: a revision the
// proxy does not speak is refused naming the ones it does; a request
// without its client capabilities is malformed.
func revisionError(rev revision) json.RawMessage {
	if !rev.modern {
		return nil
	}
	if !mcp.IsValidProtocolVersion(rev.version) {
		e, _ := json.Marshal(mcp.UnsupportedProtocolVersionError{Version: rev.version, Supported: mcp.ValidProtocolVersions}.JSONRPCError().Error)
		return e
	}
	if rev.caps == nil {
		return rpcError(mcp.INVALID_PARAMS, "missing or invalid _meta field io.modelcontextprotocol/clientCapabilities (required from protocol version 2026-07-28)")
	}
	return nil
}

// removedMethods are the requests 2026-07-28 took away; a modern request
// for one is refused as unknown, as the revision says.
var removedMethods = map[string]bool{
	string(mcp.MethodInitialize):           true,
	string(mcp.MethodPing):                 true,
	string(mcp.MethodSetLogLevel):          true,
	string(mcp.MethodResourcesSubscribe):   true,
	string(mcp.MethodResourcesUnsubscribe): true,
}

func rpcError(code int, msg string) json.RawMessage { return jsonrpc.ErrorObject(code, msg) }

// cacheable are the methods whose 2026-07-28 results carry ttlMs and
// cacheScope.
var cacheable = map[string]bool{
	string(mcp.MethodToolsList):              true,
	string(mcp.MethodPromptsList):            true,
	string(mcp.MethodResourcesList):          true,
	string(mcp.MethodResourcesTemplatesList): true,
	string(mcp.MethodResourcesRead):          true,
}

// modernHead is what a result to a modern request of method starts with,
// in place of its opening brace: the members 2026-07-28 requires, when the
// result lacks them (search: look; else it lacks them all). The proxy's
// answers are private to its user (cacheScope), and fresh for ttlMs.
func modernHead(method string, result json.RawMessage, search bool, ttlMs int64) []byte {
	want := cacheable[method]
	has := make([]gjson.Result, 3)
	switch {
	case search && want:
		has = gjson.GetManyBytes(result, "resultType", "ttlMs", "cacheScope")
	case search:
		has[0] = gjson.GetBytes(result, "resultType")
	}
	head := []byte{'{'}
	add := func(member string) {
		if len(head) > 1 {
			head = append(head, ',')
		}
		head = append(head, member...)
	}
	if !has[0].Exists() {
		add(`"resultType":"complete"`)
	}
	if want && !has[1].Exists() {
		add(`"ttlMs":` + strconv.FormatInt(ttlMs, 10))
	}
	if want && !has[2].Exists() {
		add(`"cacheScope":"private"`)
	}
	return head
}

// logRank orders the log levels (RFC 5424 severities, lowest first).
var logRank = map[string]int{
	"debug": 0, "info": 1, "notice": 2, "warning": 3, "error": 4, "critical": 5, "alert": 6, "emergency": 7,
}

// capabilities decodes what a modern request declares the client can do;
// nil for other requests.
func (r revision) capabilities() *mcp.ClientCapabilities {
	if r.caps == nil {
		return nil
	}
	var c mcp.ClientCapabilities
	if json.Unmarshal(r.caps, &c) != nil {
		return nil
	}
	return &c
}

// modernError is an upstream's error as a modern request gets it: a
// legacy upstream's "resource not found" (-32002) is invalid params
// (-32602) from 2026-07-28 on, which no longer lets servers use -32002.
func modernError(env envelope, rpcErr json.RawMessage) json.RawMessage {
	if !env.rev.modern || gjson.GetBytes(rpcErr, "code").Int() != mcp.RESOURCE_NOT_FOUND {
		return rpcErr
	}
	out, err := sjson.SetBytes(rpcErr, "code", mcp.INVALID_PARAMS)
	if err != nil {
		return rpcErr
	}
	return out
}
