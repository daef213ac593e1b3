package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"

	"github.com/hashicorp/go-hclog"
)

// EnvDebugAddr, when set to a loopback address (127.0.0.1:6060, or
// 127.0.0.1:0 for any port), makes serve offer Go's profiles
// (/debug/pprof/) there: goroutines, heap, CPU. It is how the reliability
// tests count the core's goroutines, and how a leak or a stall is
// diagnosed on a user's machine. Off by default; never on other
// addresses.
const EnvDebugAddr = "ICA_MCP_PROXY_DEBUG_ADDR"

// serveDebug starts the profile server if asked; its address is logged.
func serveDebug(log hclog.Logger) error {
	addr := os.Getenv(EnvDebugAddr)
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s=%q: give a loopback address and port, such as 127.0.0.1:6060", EnvDebugAddr, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvDebugAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("profiles served", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}
