// Package e2e tests the proxy end to end with real parts: the built proxy
// and plugin binaries, real upstream servers (server-everything from npm and
// the Go demo upstream), and real MCP clients: the Inspector CLI, and the
// agent runtimes Claude Code, Codex, Gemini CLI and OpenCode, each run
// headless against a model API on loopback (test/modelapi).
//
// `make test` builds the binaries and installs the npm peers, and points
// ICA_TEST_BIN and ICA_TEST_PEERS at them. Run alone, the tests build the
// binaries themselves and skip what needs the npm peers.
package e2e
