package httpfront

import (
	"net/http"
)

// eventStream writes server-sent events, one JSON-RPC message each.
type eventStream struct {
	w       http.ResponseWriter
	flusher http.Flusher
}

// startEvents sends the headers of an event stream.
func startEvents(w http.ResponseWriter, header func(http.Header)) *eventStream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	if header != nil {
		header(h)
	}
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	es := &eventStream{w: w, flusher: f}
	es.flush()
	return es
}

// send writes msg as one "message" event. A JSON-RPC message holds no
// raw newline (JSON escapes them), so it fits one data line.
func (es *eventStream) send(msg []byte) error {
	buf := make([]byte, 0, len(msg)+24)
	buf = append(buf, "event: message\ndata: "...)
	buf = append(buf, msg...)
	buf = append(buf, '\n', '\n')
	if _, err := es.w.Write(buf); err != nil {
		return err
	}
	es.flush()
	return nil
}

// comment writes an SSE comment, which clients ignore: it keeps an idle
// stream's connection from being closed by the way.
func (es *eventStream) comment() error {
	if _, err := es.w.Write([]byte(": keep-alive\n\n")); err != nil {
		return err
	}
	es.flush()
	return nil
}

func (es *eventStream) flush() {
	if es.flusher != nil {
		es.flusher.Flush()
	}
}
