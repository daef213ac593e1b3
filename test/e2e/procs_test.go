//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func readProcs() map[int]proc {
	out := map[int]proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parens.
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 || close+4 > len(s) {
			continue
		}
		fields := strings.Fields(s[close+2:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		out[pid] = proc{pid: pid, ppid: ppid, comm: s[open+1 : close], state: fields[0][0]}
	}
	return out
}

// descendants returns every live process below pid.
func descendants(pid int) []proc {
	all := readProcs()
	children := map[int][]int{}
	for _, p := range all {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			if p := all[c]; p.state != 'Z' {
				out = append(out, p)
			}
			queue = append(queue, c)
		}
	}
	return out
}

// alive reports whether pid runs (a zombie has exited).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitGone fails unless every process in ps is gone within d.
func waitGone(t *testing.T, ps []proc, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var left []proc
		for _, p := range ps {
			if alive(p.pid) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				_ = syscall.Kill(p.pid, syscall.SIGKILL) // do not leak into other tests
			}
			t.Fatalf("still running %s after the proxy ended: %+v", d, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDescendants waits until pid has processes named each of names below
// it, and returns them all.
func waitDescendants(t *testing.T, pid int, names ...string) []proc {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds := descendants(pid)
		found := map[string]bool{}
		for _, d := range ds {
			found[d.comm] = true
		}
		ok := true
		for _, n := range names {
			if !found[n] {
				ok = false
			}
		}
		if ok {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v did not appear below %d; saw %+v", names, pid, ds)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The stdio plugin killed outright: its upstreams end with it. By default
// Linux's Pdeathsig ends each upstream's leader. With
// ICA_MCP_PROXY_PARENT_WATCH=poll each upstream runs under a guard that
// watches its parent, as on macOS, which has no Pdeathsig; the guard ends
// the whole tree, a grandchild that ignores stdin's end included.
func TestUpstreamTreesDieWithTheirPlugin(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"default", "poll"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			server := map[string]any{"command": demoBin()}
			want := []string{"ica-demo-upstre"}
			e.set("ICA_MCP_PROXY_PARENT_WATCH=") // whatever the run's setting
			if mode == "poll" {
				e.set("ICA_MCP_PROXY_PARENT_WATCH=poll")
				// sleep stands for a server's helper that never reads stdin.
				server = map[string]any{"command": "/bin/sh", "args": []string{"-c", "sleep 300 & exec " + demoBin()}}
				want = append(want, "sleep")
			}
			e.writeProject(t, map[string]any{"demo": server})
			c := startProxy(t, e)
			c.toolNames()
			plugin := pluginPID(t, c.cmd.Process.Pid, "ica-plugin-tran")
			tree := waitDescendants(t, plugin, want...)
			guarded := false
			for _, p := range tree {
				if p.comm == "ica-plugin-tran" {
					guarded = true
				}
			}
			if guarded != (mode == "poll") {
				t.Fatalf("a guard process under the plugin: %v, in mode %s: %+v", guarded, mode, tree)
			}
			killProcess(t, plugin)
			waitGone(t, tree, 5*time.Second)
		})
	}
}
