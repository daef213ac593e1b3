package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// debugAddrs holds the profile address given to each proxied run (-profile).
var debugAddrs = map[string]string{}

// debugEnv gives a proxied run a loopback profile address when -profile is
// set. The port is picked free now and released for the core to take.
func debugEnv(label string) []string {
	if profileDir == "" {
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	debugAddrs[label] = addr
	return []string{"ICA_MCP_PROXY_DEBUG_ADDR=" + addr}
}

// profile keeps 8 callers busy for 6 s while the core profiles itself, and
// writes the profile to out. It runs after the measurements, so profiling
// does not slow what the tables show.
func profile(c caller, params, expect, addr, out string) error {
	if addr == "" {
		return fmt.Errorf("no profile address")
	}
	if err := os.MkdirAll(profileDir, 0o755); err != nil {
		return err
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				if _, err := load(c, params, expect, 1, 1, nil); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()
	cl := http.Client{Timeout: 30 * time.Second}
	if err := fetchTo(cl, "http://"+addr+"/debug/pprof/profile?seconds=6", out); err != nil {
		return err
	}
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	// The allocations since the core started: mostly these calls.
	allocs := strings.TrimSuffix(out, ".pprof") + ".allocs.pprof"
	if err := fetchTo(cl, "http://"+addr+"/debug/pprof/allocs", allocs); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: CPU and allocation profiles of the core written to %s, %s\n", out, allocs)
	return nil
}

func fetchTo(cl http.Client, url, out string) error {
	resp, err := cl.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
