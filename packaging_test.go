package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/internal/nixhash"
)

// TestFlakeVendorHashIsCurrent fails when go.mod or go.sum (the root's, or a replaced sibling
// module's go.mod) changed the third-party modules Nix must download without flake.nix's
// vendorHash following: `nix build` and `nix run` would then fail with a hash mismatch.
func TestFlakeVendorHashIsCurrent(t *testing.T) {
	flake, err := os.ReadFile("flake.nix")
	if err != nil {
		t.Fatal(err)
	}
	committed, err := nixhash.FlakeVendorHash(flake)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	want, err := nixhash.GoModulesHash(ctx, ".")
	if err != nil {
		t.Fatalf("compute the vendorHash for the root module: %v", err)
	}
	if committed != want {
		t.Errorf("flake.nix has vendorHash = %q, but go.mod/go.sum now need %q.\n"+
			"Run `make vendorhash` and commit flake.nix with the go.mod/go.sum change.", committed, want)
	}
}

// TestFlakeParses runs Nix's parser over flake.nix where Nix is installed (apt-get install
// nix-bin); it cannot build the flake, since nixpkgs cannot be fetched on these machines.
func TestFlakeParses(t *testing.T) {
	nixInstantiate, err := exec.LookPath("nix-instantiate")
	if err != nil {
		t.Skip("nix-instantiate is not installed")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(nixInstantiate, "--parse", "flake.nix")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("nix-instantiate --parse flake.nix: %v\n%s", err, stderr.String())
	}
}

// TestMakeBuildStampsVersion builds the binary the way `make build`, `make install` and
// `make dist` do and checks what --version tells a user.
func TestMakeBuildStampsVersion(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	bin := t.TempDir()
	build := exec.Command("make", "--no-print-directory", "build", "BIN_DIR="+bin, "VERSION=v1.2.3-test", "COMMIT=0123abc")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	version := exec.Command(filepath.Join(bin, "mcp-cloudrun-proxy"), "--version")
	version.Stdout = &stdout
	version.Stderr = &stderr
	if err := version.Run(); err != nil {
		t.Fatalf("mcp-cloudrun-proxy --version: %v\n%s", err, stderr.String())
	}
	want := "mcp-cloudrun-proxy v1.2.3-test (commit 0123abc, " + runtime.Version() + ")\n"
	if got := stdout.String() + stderr.String(); got != want {
		t.Errorf("mcp-cloudrun-proxy --version printed %q, want %q", got, want)
	}
}
