// Command scripted is an MCP upstream for the wire golden tests: it plays
// the part a JSON script ($SCRIPT, see internal/scripted) gives it, and
// records every line it receives in $RECORD, so the test can compare the
// frames that crossed the proxy with the golden ones. With $RECORD_READS it
// also records how many lines each read of its input brought.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/scripted"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scripted:", err)
		os.Exit(1)
	}
}

func run() error {
	data, err := os.ReadFile(os.Getenv("SCRIPT"))
	if err != nil {
		return err
	}
	sc, err := scripted.Parse(data)
	if err != nil {
		return err
	}
	record, err := os.OpenFile(os.Getenv("RECORD"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	p := scripted.NewPlayer(sc, func(msg []byte) { _, _ = os.Stdout.Write(append(msg, '\n')) }, os.Exit)
	var stdin io.Reader = os.Stdin
	if path := os.Getenv("RECORD_READS"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		stdin = &readCounter{r: os.Stdin, log: f}
	}
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		line := in.Bytes()
		_, _ = record.Write(append(append([]byte(nil), line...), '\n'))
		p.Handle(line)
	}
	return nil
}

// readCounter writes, for each read of its input, how many lines ended in
// it ($RECORD_READS): how the proxy's writes reached the upstream.
type readCounter struct {
	r   io.Reader
	log io.Writer
}

func (c *readCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		_, _ = fmt.Fprintln(c.log, bytes.Count(b[:n], []byte{'\n'}))
	}
	return n, err
}
