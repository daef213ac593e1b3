package frontend

import (
	"strings"
	"testing"
	"time"
)

func TestRequestStateRoundTrip(t *testing.T) {
	s := newStateSigner()
	now := time.Now()
	st := heldState{Exchange: 7, Round: 2, Binding: binding("tools/call", []byte(`{"name":"a.b","arguments":{"x": 1}}`)), Expires: now.Add(time.Minute).UnixMilli()}
	token := s.seal(st)
	got, err := s.verify(token, now)
	if err != nil || got != st {
		t.Fatalf("open(seal) = %+v, %v", got, err)
	}
	// The binding ignores whitespace in the arguments, not their values.
	if binding("tools/call", []byte(`{"name":"a.b","arguments":{"x":1}}`)) != st.Binding ||
		binding("tools/call", []byte(`{"name":"a.b","arguments":{"x":2}}`)) == st.Binding ||
		binding("prompts/get", []byte(`{"name":"a.b","arguments":{"x":1}}`)) == st.Binding {
		t.Fatal("binding does not tell requests apart as it should")
	}
	if _, err := s.verify(token, now.Add(2*time.Minute)); err != errStateExpired {
		t.Fatalf("an expired state: %v", err)
	}
	if _, err := newStateSigner().verify(token, now); err != errStateForged {
		t.Fatalf("another process's state: %v", err)
	}
	for _, bad := range []string{"", "ica1.", "ica1.x.y", token + "x", strings.Replace(token, ".", "", 1), "opaque"} {
		if _, err := s.verify(bad, now); err != errStateForged {
			t.Errorf("open(%q): %v", bad, err)
		}
	}
}

// FuzzRequestState: no input makes open panic, and none but a state the
// signer sealed verifies.
func FuzzRequestState(f *testing.F) {
	s := stateSigner{key: []byte("fuzz-key-fuzz-key-fuzz-key-fuzz!")}
	now := time.UnixMilli(1_800_000_000_000)
	good := s.seal(heldState{Exchange: 1, Round: 1, Binding: "b", Expires: now.Add(time.Hour).UnixMilli()})
	for _, seed := range []string{good, "ica1.", "ica1.e30.", "ica1.e30.AAAA", "ica1.%%%.%%%", "garbage"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		st, err := s.verify(token, now)
		if err == nil && s.seal(st) != token {
			t.Fatalf("%q verified but is not what the signer seals for %+v", token, st)
		}
	})
}
