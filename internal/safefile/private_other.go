//go:build !unix

package safefile

import "os"

// private has no owner or mode bits to check here: Windows keeps access
// in ACLs, which the per-user profile folder already restricts.
func private(string, os.FileInfo) error { return nil }

// openNonblock: Windows has no named pipes in the file namespace.
const openNonblock = 0

// ForeignOwner says whether fi belongs to another user. Windows keeps
// ownership in security descriptors, not in the FileInfo: not read here.
func ForeignOwner(os.FileInfo) (owner string, foreign bool) { return "", false }
