// Package doctor checks a user's whole setup (ICA_HOME, config files,
// servers, plugins, registration in each agent runtime) and says, for each
// problem, what to do about it. The checks are plain functions over what
// the rest of the core reports; the CLI gathers the inputs and prints the
// Report.
package doctor

import (
	"fmt"
	"io"
	"strings"
)

// Level grades a finding.
type Level string

const (
	// OK: works.
	OK Level = "ok"
	// Warn: works, but worth knowing (a client not registered, a shadowed
	// server, a tool changed outside strict mode).
	Warn Level = "warn"
	// Fail: something does not work, or is unsafe; doctor exits non-zero.
	Fail Level = "fail"
)

// Finding is one check's result.
type Finding struct {
	// Area is what was checked: home, config, server, tools, plugin or
	// client.
	Area string `json:"area"`
	// Subject names the thing: a path, a server, a plugin file, a client.
	Subject string `json:"subject"`
	Level   Level  `json:"level"`
	Detail  string `json:"detail"`
	// Fix is what to do, for a warning or failure.
	Fix string `json:"fix,omitempty"`
}

// Report is every finding, in the order checked.
type Report struct {
	Findings []Finding `json:"findings"`
}

func (r *Report) add(area, subject string, level Level, detail, fix string) {
	r.Findings = append(r.Findings, Finding{Area: area, Subject: subject, Level: level, Detail: detail, Fix: fix})
}

// Count returns the number of findings at level.
func (r *Report) Count(level Level) int {
	n := 0
	for _, f := range r.Findings {
		if f.Level == level {
			n++
		}
	}
	return n
}

// Print writes the report for a person: one line per finding, the fix
// under it, and a summary.
func (r *Report) Print(w io.Writer) {
	area := ""
	for _, f := range r.Findings {
		if f.Area != area {
			area = f.Area
			_, _ = fmt.Fprintf(w, "\n%s\n", strings.ToUpper(area))
		}
		mark := map[Level]string{OK: "  ok  ", Warn: " warn ", Fail: " FAIL "}[f.Level]
		_, _ = fmt.Fprintf(w, "%s %s: %s\n", mark, f.Subject, f.Detail)
		if f.Fix != "" && f.Level != OK {
			_, _ = fmt.Fprintf(w, "       → %s\n", f.Fix)
		}
	}
	fails, warns := r.Count(Fail), r.Count(Warn)
	switch {
	case fails > 0:
		_, _ = fmt.Fprintf(w, "\n%d problem(s) to fix, %d warning(s).\n", fails, warns)
	case warns > 0:
		_, _ = fmt.Fprintf(w, "\nNo problems; %d warning(s).\n", warns)
	default:
		_, _ = fmt.Fprintln(w, "\nEverything checked is fine.")
	}
}
