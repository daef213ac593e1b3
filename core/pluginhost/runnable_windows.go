package pluginhost

import (
	"os"
	"path/filepath"
	"strings"
)

// notRunnable says why the file fi cannot be started, or "": Windows has
// no execute bit; CreateProcess starts .exe files.
func notRunnable(fi os.FileInfo) string {
	if !strings.EqualFold(filepath.Ext(fi.Name()), ".exe") {
		return "is not an .exe file"
	}
	return ""
}
