package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// wheelTags are the platform tags of each binary's wheel (PEP 425/600). The binaries are
// static, so any glibc or musl Linux will do; Go 1.26 needs macOS 12.
func wheelTags(goos, goarch string) ([]string, error) {
	switch goos + "/" + goarch {
	case "linux/amd64":
		return []string{"manylinux_2_17_x86_64", "manylinux2014_x86_64", "musllinux_1_1_x86_64"}, nil
	case "linux/arm64":
		return []string{"manylinux_2_17_aarch64", "manylinux2014_aarch64", "musllinux_1_1_aarch64"}, nil
	case "darwin/amd64":
		return []string{"macosx_12_0_x86_64"}, nil
	case "darwin/arm64":
		return []string{"macosx_12_0_arm64"}, nil
	case "windows/amd64":
		return []string{"win_amd64"}, nil
	case "windows/arm64":
		return []string{"win_arm64"}, nil
	}
	return nil, fmt.Errorf("no wheel platform tag for %s/%s", goos, goarch)
}

// pep440 turns GoReleaser's semver into a Python version: 1.2.3 stays, 1.2.3-rc.1 becomes
// 1.2.3rc1, and any other pre-release (a snapshot's 1.2.4-dev.abc1234) 1.2.4.dev0+abc1234.
func pep440(v string) string {
	base, pre, found := strings.Cut(v, "-")
	if !found {
		return base
	}
	if m := regexp.MustCompile(`^(alpha|beta|rc)\.?(\d+)$`).FindStringSubmatch(pre); m != nil {
		return base + map[string]string{"alpha": "a", "beta": "b", "rc": "rc"}[m[1]] + m[2]
	}
	local := strings.Trim(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(strings.TrimPrefix(pre, "dev"), "."), ".")
	if local == "" {
		return base + ".dev0"
	}
	return base + ".dev0+" + local
}

// wheelFile is one member of a wheel.
type wheelFile struct {
	Name string
	Data []byte
	Mode os.FileMode
}

// writeWheel writes dist/pypi/mcp_cloudrun_proxy-<version>-py3-none-<tags>.whl: the binary as
// a script (installed into the environment's bin/, as ruff's and uv's wheels do, so that
// `uvx mcp-cloudrun-proxy` and `pipx install mcp-cloudrun-proxy` find it) and a small
// package for `python -m mcp_cloudrun_proxy`.
func writeWheel(r release, b binary) error {
	tags, err := wheelTags(b.Goos, b.Goarch)
	if err != nil {
		return err
	}
	version := pep440(r.Version)
	exe, err := os.ReadFile(b.Path)
	if err != nil {
		return err
	}
	license, err := os.ReadFile(filepath.Join(r.Root, "LICENSE"))
	if err != nil {
		return err
	}
	readme, err := os.ReadFile(filepath.Join(r.Root, "README.md"))
	if err != nil {
		return err
	}
	distInfo := "mcp_cloudrun_proxy-" + version + ".dist-info/"
	files := []wheelFile{
		{Name: "mcp_cloudrun_proxy-" + version + ".data/scripts/" + exeName(b.Goos), Data: exe, Mode: 0o755},
		{Name: "mcp_cloudrun_proxy/__init__.py", Data: []byte(pyInit), Mode: 0o644},
		{Name: "mcp_cloudrun_proxy/__main__.py", Data: []byte(pyMain), Mode: 0o644},
		{Name: distInfo + "METADATA", Data: wheelMetadata(version, readme), Mode: 0o644},
		{Name: distInfo + "WHEEL", Data: wheelWheel(tags), Mode: 0o644},
		{Name: distInfo + "licenses/LICENSE", Data: license, Mode: 0o644},
	}
	name := fmt.Sprintf("mcp_cloudrun_proxy-%s-py3-none-%s.whl", version, strings.Join(tags, "."))
	return writeZipWithRecord(filepath.Join(r.Dist, "pypi", name), files, distInfo+"RECORD")
}

// wheelMetadata is the core metadata (2.4) with the README as the long description.
func wheelMetadata(version string, readme []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Metadata-Version: 2.4\nName: mcp-cloudrun-proxy\nVersion: %s\n", version)
	b.WriteString("Summary: Use an IAM-protected MCP server on Google Cloud Run from any local MCP client\n")
	b.WriteString("License-Expression: Apache-2.0\nLicense-File: LICENSE\n")
	b.WriteString("Project-URL: Homepage, " + repoURL + "\n")
	b.WriteString("Keywords: mcp,model-context-protocol,cloud-run,google-cloud,iam,proxy\n")
	b.WriteString("Requires-Python: >=3.8\nDescription-Content-Type: text/markdown\n\n")
	b.Write(readme)
	return b.Bytes()
}

// wheelWheel is the WHEEL file: not pure Python, one Tag line per platform tag.
func wheelWheel(tags []string) []byte {
	var b bytes.Buffer
	b.WriteString("Wheel-Version: 1.0\nGenerator: mcp-cloudrun-proxy scripts/channels\nRoot-Is-Purelib: false\n")
	for _, t := range tags {
		b.WriteString("Tag: py3-none-" + t + "\n")
	}
	return b.Bytes()
}

// writeZipWithRecord writes files and then RECORD (path,sha256=<urlsafe b64>,size per line).
func writeZipWithRecord(path string, files []wheelFile, record string) error {
	var rec strings.Builder
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(&rec, "%s,sha256=%s,%d\n", f.Name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.Data))
	}
	rec.WriteString(record + ",,\n")
	return writeZip(path, append(files, wheelFile{Name: record, Data: []byte(rec.String()), Mode: 0o644}))
}

// writeZip writes files, in order, into a new zip at path.
func writeZip(path string, files []wheelFile) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		if err := addZipFile(zw, f); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// addZipFile stores f deflated, with its Unix mode (pip and Claude Desktop keep the x bit).
func addZipFile(zw *zip.Writer, f wheelFile) error {
	// A fixed date keeps the files reproducible (zip cannot say 1970).
	h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(f.Mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("zip %s: %w", f.Name, err)
	}
	_, err = w.Write(f.Data)
	return err
}

// pyInit locates the binary the wheel installed into the environment's scripts directory.
const pyInit = `"""mcp-cloudrun-proxy: the Go binary, installed as a script beside this package."""

import os
import sys
import sysconfig


def find_binary() -> str:
    """Return the path of the mcp-cloudrun-proxy executable this wheel installed."""
    exe = "mcp-cloudrun-proxy" + (".exe" if sys.platform == "win32" else "")
    for scheme in (None, os.name + "_user"):
        path = os.path.join(sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts"), exe)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(exe + " is not in this environment's scripts directory; reinstall mcp-cloudrun-proxy")
`

// pyMain makes `python -m mcp_cloudrun_proxy ARGS` run the binary.
const pyMain = `import os
import subprocess
import sys

from mcp_cloudrun_proxy import find_binary

if __name__ == "__main__":
    binary = find_binary()
    if sys.platform == "win32":
        sys.exit(subprocess.call([binary, *sys.argv[1:]]))
    os.execv(binary, [binary, *sys.argv[1:]])
`
