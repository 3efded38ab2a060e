package nixhash

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// DownloadGoModules reproduces, for the Go module in modRoot, the fixed-output derivation
// that buildGoModule builds when proxyVendor = true, and returns its output directory (which
// lies under workDir): `go mod download` run with GOWORK=off into an empty module cache,
// whose cache/download directory, less sumdb, is the derivation's output.
//
// Only go.mod and go.sum of modRoot, and go.mod of each module a local `replace` points at,
// are copied into workDir and given to the go command: those files alone decide what that
// derivation downloads, so the hash cannot depend on any other file of the repository.
//
// The modules come from the local module cache when it has them and from the configured
// GOPROXY otherwise; go.sum verifies both, so the bytes are what Nix downloads.
func DownloadGoModules(ctx context.Context, modRoot, workDir string) (string, error) {
	src := filepath.Join(workDir, "src")
	cache := filepath.Join(workDir, "modcache")
	if err := copyModFiles(ctx, modRoot, src); err != nil {
		return "", err
	}
	goEnv, err := goEnv(ctx, modRoot, "GOMODCACHE", "GOPROXY")
	if err != nil {
		return "", err
	}
	proxy := goEnv["GOPROXY"]
	if local := goEnv["GOMODCACHE"]; local != "" {
		proxy = "file://" + filepath.ToSlash(filepath.Join(local, "cache", "download")) + "," + proxy
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download")
	cmd.Dir = src
	cmd.Env = append(os.Environ(),
		"GOWORK=off",
		"GOTOOLCHAIN=local",
		"GOFLAGS=-modcacherw", // so that the temporary cache can be deleted
		"GOMODCACHE="+cache,
		"GOPROXY="+proxy,
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go mod download for %s: %w\n%s", modRoot, err, strings.TrimSpace(stderr.String()))
	}
	out := filepath.Join(cache, "cache", "download")
	// buildGoModule deletes the checksum database cache before copying the rest to $out.
	if err := os.RemoveAll(filepath.Join(out, "sumdb")); err != nil {
		return "", fmt.Errorf("remove sumdb from the downloaded modules: %w", err)
	}
	if _, err := os.Stat(out); err != nil {
		return "", fmt.Errorf("go mod download for %s downloaded nothing (with no third-party modules, set vendorHash = null): %w", modRoot, err)
	}
	return out, nil
}

// GoModulesHash returns the vendorHash that flake.nix's buildGoModule (proxyVendor = true,
// modRoot the module in modRoot) expects: the NAR hash of [DownloadGoModules]' output.
func GoModulesHash(ctx context.Context, modRoot string) (string, error) {
	work, err := os.MkdirTemp("", "vendorhash-")
	if err != nil {
		return "", fmt.Errorf("make a work directory for the vendor hash: %w", err)
	}
	defer os.RemoveAll(work)
	dir, err := DownloadGoModules(ctx, modRoot, work)
	if err != nil {
		return "", err
	}
	return HashPath(dir)
}

// copyModFiles copies modRoot's go.mod and go.sum, and the go.mod of every local replacement,
// to the same relative places under dst.
func copyModFiles(ctx context.Context, modRoot, dst string) error {
	out, err := goCmd(ctx, modRoot, "mod", "edit", "-json")
	if err != nil {
		return err
	}
	var mod struct {
		Replace []struct {
			New struct{ Path, Version string }
		}
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		return fmt.Errorf("read go mod edit -json for %s: %w", modRoot, err)
	}
	files := []string{"go.mod", "go.sum"}
	for _, r := range mod.Replace {
		// A replacement without a version is a directory; with one, a module to download.
		if r.New.Version == "" {
			files = append(files, filepath.Join(filepath.FromSlash(r.New.Path), "go.mod"))
		}
	}
	for _, f := range files {
		if filepath.IsAbs(f) {
			return fmt.Errorf("%s/go.mod replaces a module with the absolute path %s, which a Nix build cannot see: make it relative", modRoot, filepath.Dir(f))
		}
		data, err := os.ReadFile(filepath.Join(modRoot, f))
		if err != nil {
			return fmt.Errorf("copy module files for the vendor hash: %w", err)
		}
		target := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("copy module files for the vendor hash: %w", err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return fmt.Errorf("copy module files for the vendor hash: %w", err)
		}
	}
	return nil
}

func goEnv(ctx context.Context, dir string, names ...string) (map[string]string, error) {
	out, err := goCmd(ctx, dir, append([]string{"env", "-json"}, names...)...)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	if err := json.Unmarshal(out, &env); err != nil {
		return nil, fmt.Errorf("read go env -json: %w", err)
	}
	return env, nil
}

func goCmd(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// flakeVendorHash matches the one `vendorHash = "...";` line of flake.nix.
var flakeVendorHash = regexp.MustCompile(`(?m)^(\s*vendorHash\s*=\s*")([^"\n]*)(";)`)

// FlakeVendorHash returns the vendorHash written in flake.nix's text.
func FlakeVendorHash(flake []byte) (string, error) {
	m := flakeVendorHash.FindAllSubmatch(flake, -1)
	if len(m) != 1 {
		return "", fmt.Errorf(`flake.nix must have exactly one line "vendorHash = \"sha256-...\";", found %d`, len(m))
	}
	return string(m[0][2]), nil
}

// SetFlakeVendorHash returns flake.nix's text with its vendorHash replaced by hash.
func SetFlakeVendorHash(flake []byte, hash string) ([]byte, error) {
	if _, err := FlakeVendorHash(flake); err != nil {
		return nil, err
	}
	return flakeVendorHash.ReplaceAll(flake, []byte("${1}"+hash+"${3}")), nil
}
