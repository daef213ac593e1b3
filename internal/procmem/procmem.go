// Package procmem reads how much memory processes use, for hub status:
// their proportional set size (PSS: shared pages divided among the
// processes sharing them), where the system tells it.
package procmem

// Tree is the PSS of pid and of every process under it, in KiB; ok is
// false where the system does not tell PSS (only Linux does).
func Tree(pid int) (kib int, ok bool) {
	total := 0
	for _, p := range append([]int{pid}, descendants(pid)...) {
		k, ok := pss(p)
		if !ok {
			return 0, false
		}
		total += k
	}
	return total, true
}
