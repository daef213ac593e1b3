//go:build unix && !linux

package proctree

import "syscall"

// prepareOS has no Pdeathsig to set outside Linux: the plugin's own
// watch on its host (sdk's parent pipe) ends its trees when the host dies.
func prepareOS(*syscall.SysProcAttr) {}
