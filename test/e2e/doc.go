// Package e2e tests the proxy end to end with real parts: the built proxy
// and plugin binaries, real upstream servers (server-everything from npm and
// the Go demo upstream), and a real MCP client (the Inspector CLI).
//
// `make test` builds the binaries and installs the npm peers, and points
// ICA_TEST_BIN and ICA_TEST_PEERS at them. Run alone, the tests build the
// binaries themselves and skip what needs the npm peers.
package e2e
