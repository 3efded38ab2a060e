package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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

// TestFlakeEvaluates parses flake.nix and evaluates its outputs against the stand-in for
// nixpkgs in scripts/flake-eval.nix, where Nix is installed (apt-get install nix-bin). It
// cannot build the flake: nixpkgs cannot be fetched on these machines.
func TestFlakeEvaluates(t *testing.T) {
	nixInstantiate, err := exec.LookPath("nix-instantiate")
	if err != nil {
		t.Skip("nix-instantiate is not installed")
	}
	if out, err := exec.Command(nixInstantiate, "--parse", "flake.nix").CombinedOutput(); err != nil {
		t.Fatalf("nix-instantiate --parse flake.nix: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(nixInstantiate, "--eval", "--strict", "--json", "scripts/flake-eval.nix")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix-instantiate --eval scripts/flake-eval.nix: %v\n%s", err, stderr.String())
	}
	var got struct {
		Packages map[string][]string
		Package  map[string]struct {
			ModRoot     string
			SubPackages []string
			ProxyVendor bool
			VendorHash  string
			Env         map[string]string
			Ldflags     []string
			MainProgram string
			Excluded    []string
		}
		Apps      map[string]string
		DevShells map[string][]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode the evaluated flake: %v\n%s", err, out)
	}
	flake, err := os.ReadFile("flake.nix")
	if err != nil {
		t.Fatal(err)
	}
	vendorHash, err := nixhash.FlakeVendorHash(flake)
	if err != nil {
		t.Fatal(err)
	}
	for _, system := range []string{"x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"} {
		p := got.Package[system]
		ldflags := strings.Join(p.Ldflags, " ")
		excluded := strings.Join(p.Excluded, " ")
		checks := []struct {
			what string
			ok   bool
		}{
			{"packages.default", slices.Contains(got.Packages[system], "default")},
			{`modRoot = "."`, p.ModRoot == "."},
			{`subPackages = [ "." ]`, slices.Equal(p.SubPackages, []string{"."})},
			{"proxyVendor = true", p.ProxyVendor},
			{"vendorHash as in flake.nix", p.VendorHash == vendorHash},
			{`env.CGO_ENABLED = "0"`, p.Env["CGO_ENABLED"] == "0"},
			{`env.GOWORK = "off"`, p.Env["GOWORK"] == "off"},
			{"version and commit in ldflags", strings.Contains(ldflags, "-X main.version=0-unstable-20260102") && strings.Contains(ldflags, "-X main.commit=abc1234")},
			{"go.work and e2e left out of src", strings.Contains(excluded, "/go.work ") && strings.Contains(excluded, "/e2e ")},
			{"meta.mainProgram", p.MainProgram == "mcp-cloudrun-proxy"},
			{"apps.default runs the binary", strings.HasSuffix(got.Apps[system], "/bin/mcp-cloudrun-proxy")},
			{"devShell with go, gotestsum, gopls", slices.Equal(got.DevShells[system], []string{"go_1_26", "gotestsum", "gopls"})},
		}
		for _, c := range checks {
			if !c.ok {
				t.Errorf("%s: flake lacks %s; evaluated:\n%s", system, c.what, out)
			}
		}
	}
}

// TestVersionStamping checks that `make build` stamps the version and commit it is given,
// and that --version shows a user those stamps with the Go version. (Release builds are
// checked by TestReleaseSnapshot.)
func TestVersionStamping(t *testing.T) {
	const stamps = "-X main.version=v1.2.3-test -X main.commit=0123abc"
	if _, err := exec.LookPath("make"); err == nil {
		for _, target := range []string{"build"} {
			// -n prints the recipe without running it.
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
