package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/configview"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hub"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/hubsock"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/settings"
	"github.com/ica-mcp-proxy/ica-mcp-proxy/core/share"
)

// hub status and hub stop: what the hub of this $ICA_HOME (and this
// build) serves, and its end.

// hubExtra is what the hub adds to its status report: the shared
// upstreams and its memory.
type hubExtra struct {
	Shared []share.EntryStatus `json:"shared"`
	// Views are the projects' configurations the sessions share.
	Views []configview.ViewStatus `json:"views"`
	// PSSKiB is the hub's and its plugins' and upstreams' proportional
	// set size; absent where the system does not tell it.
	PSSKiB *int `json:"pss_kib,omitempty"`
}

// hubReport is the status report as hub status reads it.
type hubReport struct {
	hub.StatusReport
	More hubExtra `json:"more"`
}

func newHubControlCmd(version, control, short string, g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   control,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			s, _ := settings.Load(os.Getenv)
			rep, err := askHub(s.Home, version, control)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(stdout, rep)
			}
			return printHubReport(rep, control)
		},
	}
}

// askHub sends a control to the hub of home and returns its report.
func askHub(home, version, control string) (hubReport, error) {
	c, err := hubsock.Dial(home, version)
	if err != nil {
		return hubReport{}, fmt.Errorf("no hub of this build runs for %s: %w", home, err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	pc := hub.NewConn(c)
	if err := pc.SendHello(hub.Hello{Version: version, Control: control}); err != nil {
		return hubReport{}, fmt.Errorf("the hub: %w", err)
	}
	raw, err := pc.ReadStatus()
	if err != nil {
		return hubReport{}, err
	}
	var rep hubReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return hubReport{}, fmt.Errorf("the hub's status: %w", err)
	}
	return rep, nil
}

func printHubReport(rep hubReport, control string) error {
	mem := ""
	if rep.More.PSSKiB != nil {
		mem = fmt.Sprintf("; %.1f MiB (PSS) with its plugins and upstreams", float64(*rep.More.PSSKiB)/1024)
	}
	verb := "runs since"
	if control == hub.ControlStop {
		verb = "stops; it ran since"
	}
	if _, err := fmt.Fprintf(stdout, "hub %d (%s) %s %s, lingering %s after its last session%s\n\n",
		rep.PID, rep.Version, verb, rep.Started.Local().Format(time.DateTime), rep.Linger, mem); err != nil {
		return err
	}
	var rows [][]string
	for _, s := range rep.Sessions {
		rows = append(rows, []string{s.ID, s.Started.Local().Format(time.TimeOnly), s.Cwd})
	}
	if err := table(stdout, []string{"SESSION", "SINCE", "FOLDER"}, rows); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout); err != nil {
		return err
	}
	rows = nil
	for _, v := range rep.More.Views {
		rows = append(rows, []string{v.Folder, strconv.Itoa(v.Sessions), strconv.Itoa(v.Reads)})
	}
	if err := table(stdout, []string{"PROJECT (CONFIG VIEW)", "SESSIONS", "READS"}, rows); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout); err != nil {
		return err
	}
	rows = nil
	for _, e := range rep.More.Shared {
		var inst []string
		for _, i := range e.Instances {
			s := i.State
			if i.Detail != "" {
				s += " " + i.Detail
			}
			if i.Holder != "" {
				s += " (" + i.Holder + ")"
			}
			inst = append(inst, s)
		}
		rows = append(rows, []string{e.Server, e.Mode, strings.Join(e.Sessions, ","), strings.Join(inst, "; ")})
	}
	return table(stdout, []string{"SERVER", "SHARING", "SESSIONS", "INSTANCES (HOLDER)"}, rows)
}
