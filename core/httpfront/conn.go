package httpfront

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/lines"
)

// Core is one client's frontend: Serve reads its messages from in, writes
// what it sends to out, and returns when in ends or ctx does.
// frontend.Server is one.
type Core interface {
	Serve(ctx context.Context, in io.Reader, out io.Writer) error
}

// maxMessage bounds a message either way, as the stdio frontend does.
const maxMessage = 64 << 20

// errEnded is a send to a conn whose frontend has returned.
var errEnded = errors.New("the session has ended")

// conn runs a Core over pipes: send writes one message to it, and every
// message it writes goes to route, in order, on one goroutine.
type conn struct {
	in   *io.PipeWriter
	mu   sync.Mutex // one write at a time
	done chan struct{}
}

func startConn(ctx context.Context, core Core, route func(msg []byte), log hclog.Logger) *conn {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &conn{in: inW, done: make(chan struct{})}
	go func() {
		if err := core.Serve(ctx, inR, outW); err != nil {
			log.Debug("a frontend ended", "error", err)
		}
		_ = inR.CloseWithError(errEnded)
		_ = outW.Close()
		close(c.done)
	}()
	go func() {
		_ = lines.Read(outR, maxMessage, func(batch [][]byte) {
			for _, m := range batch {
				route(m)
			}
		}, func(o lines.Overlong) {
			log.Warn("the frontend wrote a message over the bound; dropped", "bytes", o.Size)
		}, log)
	}()
	return c
}

// send writes msg, a line, to the frontend.
func (c *conn) send(msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	buf := make([]byte, 0, len(msg)+1)
	buf = append(append(buf, msg...), '\n')
	if _, err := c.in.Write(buf); err != nil {
		return errEnded
	}
	return nil
}

// close ends the frontend's input and waits for it to return.
func (c *conn) close() {
	_ = c.in.Close()
	<-c.done
}
