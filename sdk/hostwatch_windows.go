package sdk

import "github.com/hashicorp/go-hclog"

// watchParentPipe does nothing on Windows, where no descriptor beyond the
// standard three is inherited: the host's Job Object ends the plugin with
// the host (internal/proctree.ContainChildren).
func watchParentPipe(hclog.Logger, func(why string)) {}

// ignoreBrokenPipes: Windows has no SIGPIPE; a write to a broken pipe
// fails.
func ignoreBrokenPipes() {}
