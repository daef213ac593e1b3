package share

import (
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/upstream"
)

// What an upstream's core logs (it failed, it was probed, it wrote
// something that is not JSON) goes to the hub's log, and to the sessions
// it concerns, as with an upstream of its own (see concerned). A line may
// carry what the server wrote (the tail of its stderr), which may be of
// one session's calls: it reaches no session that could not have caused
// it.

// forward is a sink that passes what it is given to a logger, which
// keeps its own level.
type forward struct{ to hclog.Logger }

func (f forward) Accept(_ string, level hclog.Level, msg string, args ...any) {
	f.to.Log(level, msg, args...)
}

// fanOut is a logger that writes nothing itself and passes every line to
// the sinks registered on it.
func fanOut(name string, to ...hclog.Logger) hclog.InterceptLogger {
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: name, Level: hclog.Off})
	for _, t := range to {
		if t != nil {
			l.RegisterSink(forward{t})
		}
	}
	return l
}

// instanceLogs passes an instance's lines to the session they concern.
type instanceLogs struct {
	e *entry
	u atomic.Pointer[upstream.Upstream] // set once made
}

func (l *instanceLogs) Accept(_ string, level hclog.Level, msg string, args ...any) {
	u := l.u.Load()
	if u == nil {
		return
	}
	for _, v := range l.e.concerned(u) {
		if v.log != nil {
			v.log.Log(level, msg, args...)
		}
	}
}

// concerned are the sessions what u says outside any call may concern:
// every session, while u has served no call (it has heard of none);
// then, for a leased instance, the session holding it (or that held it
// last), and for a shared one the one session it has served, if one
// only.
func (e *entry) concerned(u *upstream.Upstream) []*View {
	e.mu.Lock()
	served := len(e.users[u])
	e.mu.Unlock()
	switch {
	case served == 0:
		return e.viewList()
	case e.mode.Load() != modeShared:
		if v := e.holderView(u); v != nil {
			return []*View{v}
		}
	default:
		if v := e.soleView(u); v != nil {
			return []*View{v}
		}
	}
	return nil
}
