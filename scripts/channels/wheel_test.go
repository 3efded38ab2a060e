package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestPEP440(t *testing.T) {
	tests := map[string]string{
		"1.2.3":            "1.2.3",
		"1.2.3-rc.1":       "1.2.3rc1",
		"1.2.3-beta.2":     "1.2.3b2",
		"1.2.3-alpha1":     "1.2.3a1",
		"0.0.1-dev.abc123": "0.0.1.dev0+abc123",
		"0.0.1-dev.none":   "0.0.1.dev0+none",
		"1.0.0-dev":        "1.0.0.dev0",
		"1.0.0-SNAPSHOT_x": "1.0.0.dev0+SNAPSHOT.x",
	}
	for in, want := range tests {
		if got := pep440(in); got != want {
			t.Errorf("pep440(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWheelRecordMatchesItsFiles reads a written wheel back the way pip checks it: every
// member but RECORD is listed with its urlsafe-base64 sha256 and size.
func TestWheelRecordMatchesItsFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.whl")
	files := []wheelFile{{Name: "a/b.txt", Data: []byte("hello"), Mode: 0o644}, {Name: "x.data/scripts/tool", Data: []byte("\x7fELF"), Mode: 0o755}}
	if err := writeZipWithRecord(path, files, "x.dist-info/RECORD"); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	contents := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		contents[f.Name], _ = io.ReadAll(rc)
		rc.Close()
		if f.Name == "x.data/scripts/tool" && f.Mode()&0o111 == 0 {
			t.Errorf("%s lost its executable bit: %v", f.Name, f.Mode())
		}
	}
	var want bytes.Buffer
	for _, name := range []string{"a/b.txt", "x.data/scripts/tool"} {
		sum := sha256.Sum256(contents[name])
		fmt.Fprintf(&want, "%s,sha256=%s,%d\n", name, base64.RawURLEncoding.EncodeToString(sum[:]), len(contents[name]))
	}
	want.WriteString("x.dist-info/RECORD,,\n")
	if got := string(contents["x.dist-info/RECORD"]); got != want.String() {
		t.Errorf("RECORD:\n%s\nwant:\n%s", got, want.String())
	}
	if strings.Contains(want.String(), "=,") {
		t.Error("hashes must not be padded")
	}
}
