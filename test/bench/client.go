package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The benchmark's MCP client over a child's stdio, and what it reads of
// the child's process (memory, CPU time, descendants).

// client is a raw JSON-RPC client on a child's stdio.
type client struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	nextID  int
	pending map[int]chan []byte
}

func start(cmd *exec.Cmd, env []string, dir string) (*client, error) {
	c, err := spawn(cmd, env, dir)
	if err != nil {
		return nil, err
	}
	if _, err := c.call("initialize", `{"protocolVersion":"`+protocolVersion+`","capabilities":{"elicitation":{}},"clientInfo":{"name":"bench","version":"1"}}`); err != nil {
		return nil, err
	}
	c.write([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"))
	return c, nil
}

// spawn starts cmd and speaks JSON-RPC on its stdio, without initialize
// (a 2026-07-28 client sends none).
func spawn(cmd *exec.Cmd, env []string, dir string) (*client, error) {
	cmd.Env, cmd.Dir = env, dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &client{cmd: cmd, stdin: stdin, pending: map[int]chan []byte{}}
	go c.read(stdout)
	return c, nil
}

func (c *client) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var env struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
			}
			id, bad := 0, json.Unmarshal(line, &env)
			if bad == nil && env.Method == "" {
				bad = json.Unmarshal(env.ID, &id) // the bench's ids are numbers
			}
			if bad != nil {
				// not JSON-RPC, or not an answer to the bench
			} else if env.Method != "" {
				c.answerRequest(line)
			} else {
				c.mu.Lock()
				ch := c.pending[id]
				delete(c.pending, id)
				c.mu.Unlock()
				if ch != nil {
					ch <- line
				}
			}
		}
		if err != nil {
			c.mu.Lock()
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
	}
}

func (c *client) write(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.stdin.Write(b)
}

func (c *client) call(method, params string) ([]byte, error) {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan []byte, 1)
	c.pending[id] = ch
	msg := `{"jsonrpc":"2.0","id":` + strconv.Itoa(id) + `,"method":"` + method + `","params":` + params + "}\n"
	_, err := io.WriteString(c.stdin, msg)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case res, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: the server closed the connection", method)
		}
		return res, nil
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s: no answer in 30s", method)
	}
}

func (c *client) close() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

func rssKiB(pid int) int {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// descendantNamed is the first process below pid named comm, or 0.
func descendantNamed(pid int, comm string) int {
	for _, p := range processTree(pid) {
		if p.comm == comm {
			return p.pid
		}
	}
	return 0
}

// cpuTime is the user plus system CPU time a process has used.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}
