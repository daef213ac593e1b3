package lines

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestOverlongIDs: an overlong line's id is found at its head or its
// tail, and a request is told from an answer, so each side answers only
// for what it owns.
func TestOverlongIDs(t *testing.T) {
	big := strings.Repeat("x", 200<<10)
	for _, tc := range []struct {
		line          string
		answer, reqID string
	}{
		{`{"jsonrpc":"2.0","id":3,"result":{"t":"` + big + `"}}`, "3", ""},
		{`{"jsonrpc":"2.0","result":{"t":"` + big + `"},"id":"a"}`, `"a"`, ""},
		{`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"t":"` + big + `"}}`, "", "4"},
		{`{"jsonrpc":"2.0","method":"tools/call","params":{"t":"` + big + `"},"id":"z"}`, "", `"z"`},
		{`{"jsonrpc":"2.0","method":"notifications/x","params":{"t":"` + big + `"}}`, "", ""},
		// An id nested in the result is not the message's.
		{`{"jsonrpc":"2.0","result":{"t":"` + big + `","id":9}}`, "", ""},
		// What is not JSON by itself is not written back as an id.
		{`{"jsonrpc":"2.0","id":1"x,"method":"m","params":{"t":"` + big + `"}}`, "", ""},
		{`{"jsonrpc":"2.0","method":"m","params":{"t":"` + big + `"},"id":-007}`, "", ""},
		{`{"jsonrpc":"2.0","id":"a\qb","result":{"t":"` + big + `"}}`, "", ""},
	} {
		var got []Overlong
		err := Read(bytes.NewReader([]byte(tc.line+"\n")), 100<<10, func([][]byte) { t.Error("part of an overlong line was handed over") },
			func(o Overlong) { got = append(got, o) }, hclog.NewNullLogger())
		if err != nil || len(got) != 1 {
			t.Fatalf("err %v, %d overlong", err, len(got))
		}
		id, ok := got[0].ID()
		if (tc.answer != "") != ok || id != tc.answer && ok {
			t.Errorf("%.60s…: ID() = %q %v, want %q", tc.line, id, ok, tc.answer)
		}
		// A method and no id to answer under: treated as a notification.
		if want := strings.Contains(tc.line, `"method"`) && tc.reqID == ""; want != got[0].Notification() {
			t.Errorf("%.60s…: Notification() = %v", tc.line, got[0].Notification())
		}
		rid, ok := got[0].RequestID()
		if (tc.reqID != "") != ok || rid != tc.reqID && ok {
			t.Errorf("%.60s…: RequestID() = %q %v, want %q", tc.line, rid, ok, tc.reqID)
		}
	}
}
