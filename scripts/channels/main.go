// Command channels packs the binaries GoReleaser built into the install channels GoReleaser
// OSS has no packager for: npm packages (dist/npm), Python wheels (dist/pypi) and Claude
// Desktop extensions (dist/mcpb). `make release-snapshot` and release.yml run it right after
// `goreleaser release`:
//
//	go run ./scripts/channels [-dist dist]
//
// It reads dist/metadata.json (the version) and dist/artifacts.json (the binaries), and needs
// npm on PATH for `npm pack`. It downloads nothing; the wheels are written by hand (zip with
// METADATA, WHEEL and RECORD), since PyPI's build tools are not reachable from CI.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// binary is one built executable as GoReleaser's artifacts.json lists it.
type binary struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Goos   string `json:"goos"`
	Goarch string `json:"goarch"`
	Type   string `json:"type"`
}

// release is what every packer needs: the version, the repository root (README, LICENSE) and
// where to write.
type release struct {
	Version string // semver, as GoReleaser stamps it
	Root    string
	Dist    string
}

func main() {
	dist := flag.String("dist", "dist", "GoReleaser's dist directory")
	flag.Parse()
	if err := run(*dist); err != nil {
		fmt.Fprintf(os.Stderr, "channels: %v\n", err)
		os.Exit(1)
	}
}

func run(dist string) error {
	version, err := readVersion(filepath.Join(dist, "metadata.json"))
	if err != nil {
		return err
	}
	bins, err := readBinaries(filepath.Join(dist, "artifacts.json"))
	if err != nil {
		return err
	}
	r := release{Version: version, Root: ".", Dist: dist}
	var platforms []npmPlatform
	for _, b := range bins {
		p, err := packNpmPlatform(r, b)
		if err != nil {
			return err
		}
		platforms = append(platforms, p)
		if err := writeWheel(r, b); err != nil {
			return err
		}
		if err := writeMcpb(r, b); err != nil {
			return err
		}
	}
	return packNpmLauncher(r, platforms)
}

// readVersion returns the version GoReleaser stamped into this release.
func readVersion(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s (run `goreleaser release --snapshot` first): %w", path, err)
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &meta); err != nil || meta.Version == "" {
		return "", fmt.Errorf("%s: no version (%v)", path, err)
	}
	return strings.TrimPrefix(meta.Version, "v"), nil
}

// readBinaries lists the release's executables, one per OS and architecture.
func readBinaries(path string) ([]binary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s (run `goreleaser release --snapshot` first): %w", path, err)
	}
	var all []binary
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	var bins []binary
	for _, a := range all {
		if a.Type == "Binary" {
			bins = append(bins, a)
		}
	}
	if len(bins) == 0 {
		return nil, errors.New(path + " lists no binaries")
	}
	return bins, nil
}

// exeName is the binary's file name on goos.
func exeName(goos string) string {
	if goos == "windows" {
		return "mcp-cloudrun-proxy.exe"
	}
	return "mcp-cloudrun-proxy"
}

// copyFile copies src to dst with mode.
func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
