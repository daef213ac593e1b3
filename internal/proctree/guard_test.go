//go:build unix

package proctree

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envTestHost makes the test binary a host that starts a guarded child
// (runTestHost); its value says how the host ends.
const envTestHost = "PROCTREE_TEST_HOST"

func TestMain(m *testing.M) {
	if IsGuard(os.Args) {
		os.Exit(RunGuard(os.Args))
	}
	if mode := os.Getenv(envTestHost); mode != "" {
		os.Exit(runTestHost(mode))
	}
	os.Exit(m.Run())
}

// runTestHost starts, under a guard, a shell that leaves a helper behind
// and then reads stdin until EOF; it prints the helper's pid, then ends
// the child's stdin as mode says:
//   - "dies": stdin closes as the host dies, slowly: the child reads EOF
//     and exits well before the kernel hands the guard to init, the
//     window a killed host leaves;
//   - "closes": on purpose (Tree.Closing), and the host lives on and
//     prints how the guard ended.
func runTestHost(mode string) int {
	inR, inW, err := os.Pipe()
	if err != nil {
		return 1
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return 1
	}
	cmd := exec.Command("/bin/sh", "-c", "sleep 300 & echo $!; exec cat >/dev/null")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, os.Stderr
	tree, err := StartWatched(cmd)
	if err != nil {
		fmt.Println("start:", err)
		return 1
	}
	_ = inR.Close()
	_ = outW.Close()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		return 1
	}
	fmt.Print(line)
	switch mode {
	case "dies":
		_ = inW.Close()
		time.Sleep(300 * time.Millisecond)
		// Killed, as a host dies: an exit would wait in a race build.
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		return 1
	default:
		tree.Closing()
		_ = inW.Close()
		fmt.Println(cmd.Wait())
		tree.Stop(time.Second)
		return 0
	}
}

// A helper left by the child dies with the host, even when the child
// exits on the EOF of the host's death before the guard can see its
// parent gone; a stdin closed on purpose ends the guard as the child
// ended, not by the group's SIGKILL.
func TestGuardEndsHelpersWhenItsHostDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes: not in -short mode")
	}
	for _, mode := range []string{"dies", "closes"} {
		t.Run(mode, func(t *testing.T) {
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			host := exec.Command(self)
			host.Env = append(os.Environ(), envTestHost+"="+mode, EnvParentWatch+"=poll")
			host.Stderr = os.Stderr
			out, err := host.Output()
			if ended := fmt.Sprint(err); ended != map[string]string{"dies": "signal: killed", "closes": "<nil>"}[mode] {
				t.Fatalf("host ended with %s: %s", ended, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			helper, err := strconv.Atoi(lines[0])
			if err != nil {
				t.Fatalf("host said %q", out)
			}
			if mode == "closes" && (len(lines) < 2 || lines[1] != "<nil>") {
				t.Errorf("the guard ended with %q, want the child's exit (<nil>)", lines[1:])
			}
			deadline := time.Now().Add(5 * time.Second)
			for running(helper) {
				if time.Now().After(deadline) {
					_ = syscall.Kill(helper, syscall.SIGKILL)
					t.Fatalf("the child's helper %d outlived its host", helper)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// running says whether pid is a live process (a zombie is not: init may
// be slow to reap it).
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !os.IsNotExist(err)
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
