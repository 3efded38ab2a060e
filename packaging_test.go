package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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

// TestVersionStamping checks that `make build` and `make dist` stamp the version and commit
// they are given, and that --version shows a user those stamps with the Go version.
func TestVersionStamping(t *testing.T) {
	const stamps = "-X main.version=v1.2.3-test -X main.commit=0123abc"
	if _, err := exec.LookPath("make"); err == nil {
		for _, target := range []string{"build", "dist"} {
			// -n prints the recipe without running it: the six cross-builds of dist are too slow
			// for every test run (`make dist` checks its host binary itself).
			out, err := exec.Command("make", "-n", "--no-print-directory", target, "VERSION=v1.2.3-test", "COMMIT=0123abc").CombinedOutput()
			if err != nil {
				t.Fatalf("make -n %s: %v\n%s", target, err, out)
			}
			if !strings.Contains(string(out), stamps) {
				t.Errorf("make -n %s does not pass %q to the linker:\n%s", target, stamps, out)
			}
		}
	}

	// Built like e2e's binary (same flags but the stamps), so the build cache is shared.
	bin := filepath.Join(t.TempDir(), "mcp-cloudrun-proxy")
	if out, err := exec.Command("go", "build", "-ldflags", stamps, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	version := exec.Command(bin, "--version")
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
