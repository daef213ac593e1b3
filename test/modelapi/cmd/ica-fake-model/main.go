// Command ica-fake-model serves the tests' fake model API on loopback, to
// drive an agent runtime by hand the way the runtime tests do: it prints
// its URL, then one line per request it is sent.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/test/modelapi"
)

func main() {
	suffix := flag.String("tool", "echo", "call the first offered tool whose name ends with this")
	msg := flag.String("message", "hello from the fake model", "the message argument of the call")
	flag.Parse()
	s, err := modelapi.Start(modelapi.Script{ToolSuffix: *suffix, Args: map[string]any{"message": *msg}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(s.URL)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	seen := 0
	for {
		select {
		case <-stop:
			_ = s.Close()
			return
		case <-time.After(100 * time.Millisecond):
		}
		reqs := s.Requests()
		for _, r := range reqs[seen:] {
			fmt.Printf("%s %s model=%s tools=%d refused=%q answer=%q result=%q\n  %v\n", r.API, r.Path, r.Model, len(r.Tools), r.Refused, r.Answer, r.ToolResult, r.Tools)
			if os.Getenv("FAKE_MODEL_BODIES") != "" {
				fmt.Printf("  %s\n", r.Body)
			}
		}
		seen = len(reqs)
	}
}
