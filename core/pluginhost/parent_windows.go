package pluginhost

import (
	"os"
	"os/exec"
)

// passParent passes nothing on Windows, which inherits no descriptor
// beyond the standard three: the Job Object this process put itself in
// (proctree.ContainChildren) ends the plugin with it.
func passParent(*exec.Cmd, *os.File) {}
