// Package sse reads Server-Sent Events streams as the WHATWG HTML standard
// defines them (https://html.spec.whatwg.org/multipage/server-sent-events.html),
// which both MCP HTTP transports use.
//
// It is small and written here rather than taken from a library because the
// transports need exactly three things the common clients hide: the event
// id for resuming, the retry delay, and a bound on how much a hostile server
// can make the reader buffer.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Event is one dispatched event.
type Event struct {
	// Type is the event field, "message" when the server sent none.
	Type string
	// Data is the data lines joined with "\n".
	Data []byte
	// ID is the last event id in effect after this event, "" if none.
	ID string
}

// Reader reads events from a stream.
type Reader struct {
	br    *bufio.Reader
	max   int
	first bool

	lastID string
	retry  time.Duration
}

// ErrTooLarge is returned when an event exceeds the reader's limit.
var ErrTooLarge = errors.New("sse: event too large")

// NewReader reads from r; an event larger than max bytes is an error.
func NewReader(r io.Reader, max int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4<<10), max: max, first: true}
}

// LastID is the last event id the stream set, for Last-Event-ID.
func (r *Reader) LastID() string { return r.lastID }

// Retry is the reconnection delay the stream asked for, 0 if none.
func (r *Reader) Retry() time.Duration { return r.retry }

// Next returns the next event. At the end of the stream it returns io.EOF;
// an event cut off by the end is dropped, as the standard says.
func (r *Reader) Next() (Event, error) {
	var (
		typ     string
		data    []byte
		hasData bool
		size    int
	)
	for {
		line, err := r.readLine(&size)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return Event{}, io.EOF
			}
			return Event{}, err
		}
		if r.first {
			r.first = false
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(line) == 0 {
			if !hasData {
				typ, size = "", 0
				continue
			}
			if typ == "" {
				typ = "message"
			}
			return Event{Type: typ, Data: data, ID: r.lastID}, nil
		}
		if line[0] == ':' {
			continue // a comment, often a keep-alive
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			typ = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.lastID = string(value)
			}
		case "retry":
			if n, err := strconv.ParseUint(string(value), 10, 31); err == nil {
				r.retry = time.Duration(n) * time.Millisecond
			}
		}
	}
}

// readLine returns one line without its end (LF, CRLF or a lone CR at the
// end of a read), counting it against the event's size.
func (r *Reader) readLine(size *int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.br.ReadSlice('\n')
		*size += len(chunk)
		if *size > r.max {
			return nil, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, r.max)
		}
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return nil, err
	}
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte("\r")), nil
}
