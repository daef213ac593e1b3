// Package lines reads newline-delimited JSON-RPC as an MCP server writes it
// on stdout: lines handed over in the batches they arrive in, lines over
// the message bound dropped (with what is needed to answer for them), and
// whatever else a server may print (banners, NULs, invalid UTF-8) kept
// apart from the messages. The stdio plugin reads a child's stdout with
// it, and so does the host when the plugin hands it the child's pipes.
package lines

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/hashicorp/go-hclog"
	"github.com/tidwall/gjson"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/jsonrpc"
)

// Overlong is what is kept of a line longer than the limit: its first and
// last few KiB (where a JSON-RPC message's id is), and its size.
type Overlong struct {
	head, tail []byte
	// Size is the line's length in bytes.
	Size int
}

const overlongKeep = 4 << 10

func (o *Overlong) add(chunk []byte) {
	o.Size += len(chunk)
	if room := overlongKeep - len(o.head); room > 0 {
		o.head = append(o.head, chunk[:min(room, len(chunk))]...)
	}
	o.tail = append(o.tail, chunk...)
	if len(o.tail) > overlongKeep {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-overlongKeep:]...)
	}
}

// Read calls fn with the non-empty lines of r, without their line ends,
// until r ends: each call gets the lines that were already read when the
// reader would otherwise wait, so lines that arrive together are handed
// over together. A line longer than max is dropped, and tooLong (if not
// nil) gets its head, tail and size. fn may keep the slices: each batch is
// a fresh copy, and a line longer than the read buffer (64 KiB) is handed
// over alone, in the buffer it was gathered in, never copied again (a
// 50 MiB answer is not held twice). No part of an overlong line reaches
// fn. The error is r's, nil when r ended (io.EOF).
func Read(r io.Reader, max int, fn func([][]byte), tooLong func(Overlong), logger hclog.Logger) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		// A line longer than the buffer, so far: its chunks, joined once
		// when it ends. Growing one slice instead would allocate about
		// five times the line on the way (a 50 MiB answer: 250 MiB).
		parts     [][]byte
		partsSize int
		over      *Overlong
		arena     []byte   // the batch's lines, copied out of the reader
		ends      []int    // where each line of the batch ends in arena
		batch     [][]byte // slices of arena handed to fn
	)
	flush := func() {
		if len(ends) == 0 {
			return
		}
		batch = batch[:0]
		start := 0
		for _, end := range ends {
			batch = append(batch, arena[start:end:end])
			start = end
		}
		fn(batch)
		// The next batch gets its own arena: fn may keep this one.
		arena, ends, batch = nil, ends[:0], nil
	}
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			switch {
			case over != nil:
				over.add(chunk)
			case partsSize+len(chunk) > max:
				over = &Overlong{}
				for _, p := range parts {
					over.add(p)
				}
				over.add(chunk)
				parts, partsSize = nil, 0
			default:
				parts = append(parts, bytes.Clone(chunk))
				partsSize += len(chunk)
			}
			continue
		}
		line := chunk
		long := parts != nil
		if long {
			joined := make([]byte, 0, partsSize+len(chunk))
			for _, p := range parts {
				joined = append(joined, p...)
			}
			line = append(joined, chunk...)
		}
		if over != nil {
			over.add(bytes.TrimRight(chunk, "\r\n"))
			logger.Error("dropping a line longer than the limit", "limit_bytes", max, "line_bytes", over.Size)
			if tooLong != nil {
				flush() // what came before goes first
				tooLong(*over)
			}
		} else if line = bytes.TrimSpace(line); len(line) > 0 && long {
			flush() // what came before goes first
			fn([][]byte{line})
		} else if len(line) > 0 {
			if arena == nil {
				// Sized for what is already read: the batch is this line
				// and the lines buffered behind it, usually all of them
				// (a fixed size wasted kilobytes on each small answer).
				arena = make([]byte, 0, len(line)+br.Buffered())
			}
			arena = append(arena, line...)
			ends = append(ends, len(arena))
		}
		parts, partsSize, over = nil, 0, nil
		if err != nil {
			flush()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if rest, _ := br.Peek(br.Buffered()); bytes.IndexByte(rest, '\n') < 0 {
			// The next line is not all here, so reading it may wait:
			// hand over what we have (a small answer is not held back
			// behind the first part of a large one).
			flush()
		}
	}
}

// Messages reads an MCP server's stdout with Read and hands deliver the
// JSON-RPC messages in it, batch by batch: lines that are not JSON (banners,
// stray prints) are dropped and logged, and a line over max that answered
// a request is replaced by the error answer for it (Overlong.Answer). The
// stdio plugin and the host (on the direct data path) read the same way
// through it. deliver may keep the slices.
func Messages(r io.Reader, max int, deliver func([][]byte), logger hclog.Logger) {
	_ = Read(r, max, func(batch [][]byte) {
		msgs := batch[:0] // the batch is ours to keep and to filter in place
		for _, l := range batch {
			if !jsonish(l) {
				logger.Warn("ignoring non-JSON output on stdout", "line", clip(l, 200))
				continue
			}
			msgs = append(msgs, l)
		}
		if len(msgs) > 0 {
			deliver(msgs)
		}
	}, func(o Overlong) {
		if msg, ok := o.Answer(max); ok {
			deliver([][]byte{msg})
		}
	}, logger)
}

// clip is b for a log line: at most n bytes, and an ellipsis if cut.
func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// jsonish reports whether a line may be a JSON-RPC message (an object or a
// batch); anything else an upstream prints on stdout (banners, stray
// prints) is never passed on.
func jsonish(line []byte) bool { return line[0] == '{' || line[0] == '[' }

// A message over the bound cannot cross to the proxy. When it is an
// answer, the caller would wait for it until its timeout; instead the
// reader's owner answers in the upstream's place with an error saying why,
// as soon as the line has gone by. The id is found in the first few KiB
// (most SDKs write it before the result) or at the very end (the
// TypeScript SDK writes it after): there, a single closing brace after it
// shows it is a member of the message itself, not of something nested in
// the result.
var trailingID = regexp.MustCompile(`"id"\s*:\s*(-?[0-9]+|"(?:[^"\\]|\\.)*")\s*\}\s*$`)

// ID finds the id of an answer that was too long; ok is false for a
// request or notification, or when the id cannot be told.
func (o Overlong) ID() (string, bool) {
	id, request := o.find()
	if request {
		return "", false
	}
	return id, id != ""
}

// RequestID finds the id of a request that was too long (one whose method
// is in its first few KiB); ok is false for an answer or a notification,
// or when the id cannot be told.
func (o Overlong) RequestID() (string, bool) {
	id, request := o.find()
	if !request {
		return "", false
	}
	return id, id != ""
}

// Notification reports whether the line was a notification: a method in
// its head, and no id at its head or tail.
func (o Overlong) Notification() bool {
	id, request := o.find()
	return request && id == ""
}

// find is the line's id ("" when it cannot be told), and whether the line
// is a request. The head is cut short, so what gjson or the tail's pattern
// takes for the id is used only when it is a JSON number or string by
// itself: it is written back into an answer.
func (o Overlong) find() (id string, request bool) {
	if len(o.head) == 0 || o.head[0] != '{' {
		return "", false
	}
	request = gjson.GetBytes(o.head, "method").Exists()
	if id := gjson.GetBytes(o.head, "id"); id.Exists() && (id.Type == gjson.Number || id.Type == gjson.String) && json.Valid([]byte(id.Raw)) {
		return id.Raw, request
	}
	if m := trailingID.FindSubmatch(o.tail); m != nil && json.Valid(m[1]) {
		return string(m[1]), request
	}
	return "", request
}

// Answer is the error the caller of an answer too long to pass on gets in
// its place, or false when the line was not an answer with a known id.
func (o Overlong) Answer(max int) ([]byte, bool) {
	id, ok := o.ID()
	if !ok {
		return nil, false
	}
	why := fmt.Sprintf("the upstream's answer is %.1f MiB, over the %d MiB a message may be; ica-mcp-proxy dropped it", float64(o.Size)/(1<<20), max>>20)
	return jsonrpc.AppendError(nil, []byte(id), jsonrpc.ErrorObject(-32603, why)), true
}
