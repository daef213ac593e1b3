package jsonrpc

import (
	"encoding/json"
	"strconv"
)

// The writers build the messages the core sends, beside the parser that
// reads them: the raw members (ids, params, results, error objects) are
// copied as they are, never decoded and encoded again.

// AppendRequest appends a request under a raw id; params nil or empty
// leaves the member out.
func AppendRequest(dst, id []byte, method string, params []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"method":`...)
	dst = AppendString(dst, method)
	return appendParams(dst, params)
}

// AppendNotification appends a notification; params nil or empty leaves
// the member out.
func AppendNotification(dst []byte, method string, params []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","method":`...)
	dst = AppendString(dst, method)
	return appendParams(dst, params)
}

func appendParams(dst, params []byte) []byte {
	if len(params) > 0 {
		dst = append(dst, `,"params":`...)
		dst = append(dst, params...)
	}
	return append(dst, '}')
}

// AppendResult appends the answer to id (raw) with a raw result.
func AppendResult(dst, id, result []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"result":`...)
	dst = append(dst, result...)
	return append(dst, '}')
}

// AppendError appends the answer to id (raw; null when empty) with a raw
// error object (see ErrorObject).
func AppendError(dst, id, rpcErr []byte) []byte {
	if len(id) == 0 {
		id = []byte("null")
	}
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"error":`...)
	dst = append(dst, rpcErr...)
	return append(dst, '}')
}

// ErrorObject is a JSON-RPC error object with a code and a message.
func ErrorObject(code int, message string) []byte {
	b := append([]byte(`{"code":`), strconv.Itoa(code)...)
	b = append(b, `,"message":`...)
	q, _ := json.Marshal(message)
	b = append(b, q...)
	return append(b, '}')
}
