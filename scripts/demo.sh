#!/usr/bin/env bash
# The README's first command: with the binaries built (make build), install
# the plugins into a scratch ICA_HOME, configure the Go demo upstream twice
# (as a child process over stdio, and as a remote server over streamable
# HTTP on loopback), and run a real MCP session (mcp-go's stdio client)
# through the proxy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ica-demo.XXXXXX")
web_pid=
trap '[ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null; rm -rf "$scratch"' EXIT
export ICA_HOME=$scratch/ica-home
mkdir -p "$scratch/project"

# The same demo upstream as a remote server, on a free loopback port.
"$bin/ica-demo-upstream" -http 127.0.0.1:0 >"$scratch/web.url" 2>/dev/null &
web_pid=$!
for _ in $(seq 50); do [ -s "$scratch/web.url" ] && break; sleep 0.1; done
web_url=$(cat "$scratch/web.url")
[ -n "$web_url" ] || { echo "the HTTP demo upstream did not start" >&2; exit 1; }

echo "==> scratch ICA_HOME: $ICA_HOME"
"$bin/ica-mcp-proxy" plugins install
echo
"$bin/ica-mcp-proxy" plugins list --output table
echo

cat >"$scratch/project/.mcp.json" <<JSON
{
  "mcpServers": {
    "demo": { "command": "$bin/ica-demo-upstream" },
    "web":  { "url": "$web_url" }
  }
}
JSON
echo "==> $scratch/project/.mcp.json"
cat "$scratch/project/.mcp.json"
echo

cd "$scratch/project"
echo "==> an MCP session through the proxy (ica-mcp-proxy serving stdio)"
"$bin/ica-mcp-session" -call demo.add -args '{"a": 2, "b": 40}' -- "$bin/ica-mcp-proxy"
echo
echo "==> the remote upstream, through the same proxy"
"$bin/ica-mcp-proxy" call web echo '{"message": "hello over streamable HTTP"}'
echo
echo "==> ica-mcp-proxy servers --output table"
"$bin/ica-mcp-proxy" servers --output table
echo
echo "==> the same through the CLI: ica-mcp-proxy mirror-status --output table"
"$bin/ica-mcp-proxy" mirror-status --output table
