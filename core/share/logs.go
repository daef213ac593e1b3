package share

import (
	"github.com/hashicorp/go-hclog"
)

// What an upstream's core logs (it failed, it was probed, it wrote
// something that is not JSON) concerns every session using it: each sees
// it in its own log (its front's stderr), as with an upstream of its own,
// and the hub's log has it once.

// forward is a sink that passes what it is given to a logger, which
// keeps its own level.
type forward struct{ to hclog.Logger }

func (f forward) Accept(_ string, level hclog.Level, msg string, args ...any) {
	f.to.Log(level, msg, args...)
}

// fanOut is a logger that writes nothing itself and passes every line to
// the sinks registered on it (forward): the hub's log and, as they come
// and go, the sessions'.
func fanOut(name string, to ...hclog.Logger) hclog.InterceptLogger {
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: name, Level: hclog.Off})
	for _, t := range to {
		if t != nil {
			l.RegisterSink(forward{t})
		}
	}
	return l
}

// sink is the view's session's sink on its entry's logger.
func (v *View) sink() hclog.SinkAdapter { return forward{v.log} }
