package upstream

import (
	"bytes"

	"github.com/tidwall/gjson"
)

// MethodTasksUpdate answers a task's input request (the 2026-07-28 tasks
// extension).
const MethodTasksUpdate = "tasks/update"

// FlatTask is the task a 2026-07-28 server's answer says it created (it
// decides, and answers resultType "task" with the task's fields at the
// top), or "".
func FlatTask(r Reply) string {
	if !r.Stateless || !bytes.Contains(r.Result, []byte(`"task"`)) {
		return ""
	}
	if res := gjson.GetManyBytes(r.Result, "resultType", "taskId"); res[0].Str == "task" && res[1].Type == gjson.String {
		return res[1].Str
	}
	return ""
}
