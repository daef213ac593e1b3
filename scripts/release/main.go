// Command release packs the proxy's release archives: one per shipped
// system (tar.gz for linux and darwin, zip for windows), each holding the
// binary built for it (the bundled plugins are the same binary) and the
// README, and a SHA256SUMS file over them. The archives are reproducible:
// the same binaries give the same bytes (fixed times, owners and order).
//
//	go run ./scripts/release -version v1.2.3 -out dist -bin dist/bin
//
// -bin holds the binaries, named ica-mcp-proxy_<os>_<arch>[.exe] (make
// release builds them).
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// targets are the shipped systems, as GOOS/GOARCH.
var targets = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"}

// epoch is every archived file's time: a fixed one keeps archives
// reproducible.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// member is one file of an archive.
type member struct {
	name string
	data []byte
	exec bool
}

func main() {
	version := flag.String("version", "dev", "the version the binaries were stamped with")
	out := flag.String("out", "dist", "where the archives and SHA256SUMS go")
	bin := flag.String("bin", "dist/bin", "where the binaries are, named ica-mcp-proxy_<os>_<arch>[.exe]")
	readme := flag.String("readme", "README.md", "the README to include")
	flag.Parse()
	if err := run(*version, *out, *bin, *readme); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(version, out, bin, readme string) error {
	doc, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	sums := map[string]string{}
	for _, t := range targets {
		goos, goarch, _ := strings.Cut(t, "/")
		exe := "ica-mcp-proxy"
		if goos == "windows" {
			exe += ".exe"
		}
		data, err := os.ReadFile(filepath.Join(bin, "ica-mcp-proxy_"+goos+"_"+goarch+filepath.Ext(exe)))
		if err != nil {
			return err
		}
		dir := fmt.Sprintf("ica-mcp-proxy_%s_%s_%s", strings.TrimPrefix(version, "v"), goos, goarch)
		files := []member{{name: dir + "/" + exe, data: data, exec: true}, {name: dir + "/README.md", data: doc}}
		name := dir + ".tar.gz"
		pack := packTarGz
		if goos == "windows" {
			name, pack = dir+".zip", packZip
		}
		path := filepath.Join(out, name)
		if err := writeArchive(path, files, pack); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		sum, err := fileSHA256(path)
		if err != nil {
			return err
		}
		sums[name] = sum
		fmt.Println(path)
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n) // sha256sum -c reads this
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(b.String()), 0o644)
}

func writeArchive(path string, files []member, pack func(io.Writer, []member) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pack(f, files); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func packTarGz(w io.Writer, files []member) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	gz.ModTime = epoch
	tw := tar.NewWriter(gz)
	for _, m := range files {
		mode := int64(0o644)
		if m.exec {
			mode = 0o755
		}
		h := &tar.Header{Name: m.name, Mode: mode, Size: int64(len(m.data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(m.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func packZip(w io.Writer, files []member) error {
	zw := zip.NewWriter(w)
	for _, m := range files {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate, Modified: epoch}
		mode := os.FileMode(0o644)
		if m.exec {
			mode = 0o755
		}
		h.SetMode(mode)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := fw.Write(m.data); err != nil {
			return err
		}
	}
	return zw.Close()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
