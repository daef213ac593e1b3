package sdk

import (
	"fmt"
	"strings"
)

// describeExited renders an Exited event for an error message: the reason,
// the exit code or signal, and the last stderr line.
func describeExited(e Exited) string {
	var b strings.Builder
	if e.Reason != "" {
		b.WriteString(e.Reason)
	} else {
		b.WriteString("exited")
	}
	switch {
	case e.Signal != "":
		fmt.Fprintf(&b, " (signal %s)", e.Signal)
	case e.ExitCode >= 0:
		fmt.Fprintf(&b, " (exit code %d)", e.ExitCode)
	}
	if n := len(e.StderrTail); n > 0 {
		fmt.Fprintf(&b, "; stderr: %s", e.StderrTail[n-1])
	}
	return b.String()
}

// String renders the event for logs and error messages.
func (e Exited) String() string { return describeExited(e) }
