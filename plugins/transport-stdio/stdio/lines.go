package stdio

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/hashicorp/go-hclog"
)

// overlong is what is kept of a line longer than the limit: its first and
// last few KiB (where a JSON-RPC message's id is), and its size.
type overlong struct {
	head, tail []byte
	size       int
}

const overlongKeep = 4 << 10

func (o *overlong) add(chunk []byte) {
	o.size += len(chunk)
	if room := overlongKeep - len(o.head); room > 0 {
		o.head = append(o.head, chunk[:min(room, len(chunk))]...)
	}
	o.tail = append(o.tail, chunk...)
	if len(o.tail) > overlongKeep {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-overlongKeep:]...)
	}
}

// readLines calls fn with the non-empty lines of r, without their line
// ends, until r ends: each call gets the lines that were already read when
// the reader would otherwise wait, so lines that arrive together are handed
// over together. A line longer than max is dropped, and tooLong (if not
// nil) gets its head, tail and size. fn must not keep the slices.
func readLines(r io.Reader, max int, fn func([][]byte), tooLong func(overlong), logger hclog.Logger) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		long  []byte // a line longer than the buffer, so far
		over  *overlong
		arena []byte   // the batch's lines, copied out of the reader
		ends  []int    // where each line of the batch ends in arena
		batch [][]byte // slices of arena handed to fn
	)
	flush := func() {
		if len(ends) == 0 {
			return
		}
		batch = batch[:0]
		start := 0
		for _, end := range ends {
			batch = append(batch, arena[start:end])
			start = end
		}
		fn(batch)
		arena, ends = arena[:0], ends[:0]
		if cap(arena) > 4<<20 {
			arena = nil // do not pin a huge buffer
		}
	}
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			switch {
			case over != nil:
				over.add(chunk)
			case len(long)+len(chunk) > max:
				over = &overlong{}
				over.add(long)
				over.add(chunk)
				long = nil
			default:
				long = append(long, chunk...)
			}
			continue
		}
		line := chunk
		if long != nil {
			long = append(long, chunk...)
			line = long
		}
		if over != nil {
			over.add(bytes.TrimRight(chunk, "\r\n"))
			logger.Error("dropping a line longer than the limit", "limit_bytes", max, "line_bytes", over.size)
			if tooLong != nil {
				flush() // what came before goes first
				tooLong(*over)
			}
		} else if line = bytes.TrimSpace(line); len(line) > 0 {
			arena = append(arena, line...)
			ends = append(ends, len(arena))
		}
		long, over = nil, nil
		if err != nil {
			flush()
			return
		}
		if br.Buffered() == 0 {
			flush() // the next read would wait: hand over what we have
		}
	}
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
