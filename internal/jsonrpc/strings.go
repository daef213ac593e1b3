package jsonrpc

import "encoding/json"

// AppendString appends s as a JSON string, exactly as json.Marshal writes
// it. Method and tool names are plain ASCII, and for them it copies the
// bytes between quotes instead of going through json.Marshal, which the
// per-call path profiled at 4% of the core's CPU.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
