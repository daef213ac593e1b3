package stdio

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/hashicorp/go-hclog"
)

// readLines calls fn with each non-empty line of r, without its line end,
// until r ends. A line longer than max is dropped with a log entry. fn must
// not keep the slice.
func readLines(r io.Reader, max int, fn func([]byte), logger hclog.Logger) {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // accumulates a line longer than the buffer
	tooLong := false
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
			fn(line)
		}
		long, tooLong = nil, false
		if err != nil {
			return
		}
	}
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
