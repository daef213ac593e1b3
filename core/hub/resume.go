package hub

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Resuming a session after its hub died. With its stdin and stdout passed
// to the hub, the front never sees the session's bytes: the hub tells it
// the client's initialize (SessionState), and a front whose hub died
// hands the session to a new hub with it (Hello.Resume). The new hub
// replays it, with the initialized notification, before the client's
// next bytes, and keeps the answer from the client, which had its own.

// replayID is the id a resumed session's initialize is replayed under.
const replayID = `"ica-hub-resume"`

// maxFirstLine bounds what is read, or held, to find a session's first
// line or the replay's answer.
const maxFirstLine = 1 << 20

// replay is the input a resumed session starts with.
func replay(initialize json.RawMessage) (io.Reader, error) {
	req, err := sjson.SetRawBytes(initialize, "id", []byte(replayID))
	if err != nil {
		return nil, err
	}
	req = append(req, '\n')
	req = append(req, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"...)
	return bytes.NewReader(req), nil
}

// initWatcher passes a session's input on, and reports its first line
// when that is an initialize request.
type initWatcher struct {
	r     io.Reader
	buf   []byte
	done  bool
	found func(json.RawMessage)
}

func (w *initWatcher) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if !w.done && n > 0 {
		w.buf = append(w.buf, p[:n]...)
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
			if line := bytes.TrimSpace(w.buf[:i]); gjson.GetBytes(line, "method").Str == "initialize" {
				w.found(append(json.RawMessage(nil), line...))
			}
			w.done, w.buf = true, nil
		} else if len(w.buf) > maxFirstLine {
			w.done, w.buf = true, nil
		}
	}
	return n, err
}

// answerDropper passes a resumed session's output on, less the answer to
// the replayed initialize.
type answerDropper struct {
	w    io.Writer
	buf  []byte
	done bool
}

func (d *answerDropper) Write(p []byte) (int, error) {
	if d.done {
		return d.w.Write(p)
	}
	d.buf = append(d.buf, p...)
	for {
		i := bytes.IndexByte(d.buf, '\n')
		if i < 0 {
			if len(d.buf) > maxFirstLine {
				// No answer so far in: pass everything on.
				d.done = true
				if _, err := d.w.Write(d.buf); err != nil {
					return 0, err
				}
				d.buf = nil
			}
			return len(p), nil
		}
		line := d.buf[:i+1]
		d.buf = d.buf[i+1:]
		if gjson.GetBytes(line, "id").Raw == replayID && !gjson.GetBytes(line, "method").Exists() {
			d.done = true
			rest := d.buf
			d.buf = nil
			if len(rest) > 0 {
				if _, err := d.w.Write(rest); err != nil {
					return 0, err
				}
			}
			return len(p), nil
		}
		if _, err := d.w.Write(line); err != nil {
			return 0, err
		}
	}
}
