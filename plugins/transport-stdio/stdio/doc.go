// Package stdio is the stdio transport: each session is one child process,
// started in its own process group with exactly the environment the host
// gives it, spoken to with newline-delimited JSON-RPC on stdin and stdout.
//
// Shutting a session down follows the MCP specification: close the child's
// stdin, wait, send SIGTERM, then SIGKILL. Signals go to the whole process
// group, so grandchildren (npx starts node as one) do not survive. The
// session ends with an Exited event carrying the exit code and the last
// lines of stderr.
package stdio
