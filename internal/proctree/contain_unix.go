//go:build unix

package proctree

// ContainChildren makes every process this one starts from now on end
// with it. On unix each child watches for that itself (Pdeathsig, the
// plugins' parent pipe), so there is nothing to do.
func ContainChildren() error { return nil }
