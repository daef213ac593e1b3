//go:build unix

package pluginhost

import (
	"os"
	"os/exec"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/sdk"
)

// passParent hands the plugin the read end of a pipe no one writes, as
// fd 3: when this process ends, however, the plugin reads end of file and
// shuts down (sdk.EnvParentFD).
func passParent(cmd *exec.Cmd, r *os.File) {
	cmd.Env = append(cmd.Env, sdk.EnvParentFD+"=3")
	cmd.ExtraFiles = []*os.File{r}
}
