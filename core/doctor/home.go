package doctor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ica-mcp-proxy/ica-mcp-proxy/internal/safefile"
)

// Home checks $ICA_HOME and the state files in it: the user's own, not
// open to others (tokens and trust records must not be readable or
// replaceable by other users).
func Home(r *Report, home string, files []string) {
	fi, err := os.Stat(home)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.add("home", home, Fail, "does not exist", "run `ica-mcp-proxy plugins install` (or `make install`) to create it with the plugins")
		return
	case err != nil:
		r.add("home", home, Fail, err.Error(), "check the ICA_HOME variable")
		return
	case !fi.IsDir():
		r.add("home", home, Fail, "is not a folder", "point ICA_HOME at a folder")
		return
	}
	if detail, fix := safefile.Exposure(home, fi, false); detail != "" {
		r.add("home", home, Fail, detail, fix)
	} else {
		r.add("home", home, OK, "folder, "+safefile.AccessSummary(fi), "")
	}
	for _, name := range files {
		path := filepath.Join(home, name)
		fi, err := os.Stat(path)
		if err != nil {
			continue // not created yet: nothing to check
		}
		if detail, fix := safefile.Exposure(path, fi, true); detail != "" {
			r.add("home", path, Fail, detail, fix)
		}
	}
}
