//go:build unix

package sdk

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// Descriptors pass under their token, in either order, on the socket type
// of this system and on the datagram pair macOS uses (run here too).
func TestFDChannelPassesDescriptors(t *testing.T) {
	for name, typ := range map[string]int{"this system's": messageSocket, "datagram (macOS)": syscall.SOCK_DGRAM} {
		t.Run(name, func(t *testing.T) {
			host, pluginEnd, err := newFDChannel(typ)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = host.Close() }()
			plugin, err := FDChannelFromFile(pluginEnd)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = plugin.Close() }()
			send := func(token, text string) {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = r.Close() }()
				if _, err := w.WriteString(text); err != nil {
					t.Fatal(err)
				}
				_ = w.Close()
				if err := plugin.send(token, r); err != nil {
					t.Fatal(err)
				}
			}
			send("first", "one")
			send("second", "two")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for _, want := range []struct{ token, text string }{{"second", "two"}, {"first", "one"}} {
				files, err := host.receive(ctx, want.token, 1)
				if err != nil {
					t.Fatalf("%s: %v", want.token, err)
				}
				buf := make([]byte, 8)
				n, _ := files[0].Read(buf)
				_ = files[0].Close()
				if string(buf[:n]) != want.text {
					t.Fatalf("%s: read %q, want %q", want.token, buf[:n], want.text)
				}
			}
			short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancelShort()
			if _, err := host.receive(short, "never", 1); err == nil {
				t.Fatal("a token never sent was received")
			}
		})
	}
}
