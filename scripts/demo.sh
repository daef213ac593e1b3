#!/usr/bin/env bash
# The README's first command: with the binaries built (make build), install
# the plugins into a scratch ICA_HOME, configure the Go demo upstream, and run
# a real MCP session (mcp-go's stdio client) through the proxy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ica-demo.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export ICA_HOME=$scratch/ica-home
mkdir -p "$scratch/project"

echo "==> scratch ICA_HOME: $ICA_HOME"
"$bin/ica-mcp-proxy" plugins install
echo
"$bin/ica-mcp-proxy" plugins list --output table
echo

cat >"$scratch/project/.mcp.json" <<JSON
{
  "mcpServers": {
    "demo": { "command": "$bin/ica-demo-upstream" }
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
echo "==> the same through the CLI: ica-mcp-proxy mirror-status --output table"
"$bin/ica-mcp-proxy" mirror-status --output table
