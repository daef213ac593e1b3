package stdio

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/hashicorp/go-hclog"
)

// readLines calls fn with the non-empty lines of r, without their line
// ends, until r ends: each call gets the lines that were already read when
// the reader would otherwise wait, so lines that arrive together are handed
// over together. A line longer than max is dropped with a log entry. fn must
// not keep the slices.
func readLines(r io.Reader, max int, fn func([][]byte), logger hclog.Logger) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		long    []byte // a line longer than the buffer, so far
		tooLong bool
		arena   []byte   // the batch's lines, copied out of the reader
		ends    []int    // where each line of the batch ends in arena
		batch   [][]byte // slices of arena handed to fn
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
			if !tooLong {
				if len(long)+len(chunk) > max {
					tooLong, long = true, nil
				} else {
					long = append(long, chunk...)
				}
			}
			continue
		}
		line := chunk
		if long != nil {
			long = append(long, chunk...)
			line = long
		}
		if tooLong {
			logger.Error("dropping a line longer than the limit", "limit_bytes", max)
		} else if line = bytes.TrimSpace(line); len(line) > 0 {
			arena = append(arena, line...)
			ends = append(ends, len(arena))
		}
		long, tooLong = nil, false
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
