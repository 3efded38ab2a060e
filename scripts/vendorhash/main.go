// Command vendorhash recomputes the vendorHash in flake.nix, the hash of the third-party Go
// modules that Nix downloads for the root module, and writes it there (`make vendorhash`).
//
// It needs no Nix: internal/nixhash reproduces the download and the NAR hash. When `nix` is
// on PATH it also asks `nix hash path` and fails if the two disagree.
//
//	go run ./scripts/vendorhash [-flake flake.nix] [-modroot .] [-check]
//	go run ./scripts/vendorhash -hash-path DIR
//
// With -check it writes nothing and exits 1 when flake.nix is out of date. With -hash-path it
// only prints the NAR hash of DIR, as `nix hash path DIR` would.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"

	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/internal/nixhash"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "vendorhash: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("vendorhash", flag.ContinueOnError)
	flakePath := fs.String("flake", "flake.nix", "the flake whose vendorHash to update")
	modRoot := fs.String("modroot", ".", "directory of the Go module the flake builds")
	check := fs.Bool("check", false, "only report whether the flake's vendorHash is current; exit 1 if not")
	hashPath := fs.String("hash-path", "", "only print the NAR hash of this file or directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *hashPath != "" {
		hash, err := nixhash.HashPath(*hashPath)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, hash)
		return nil
	}

	flake, err := os.ReadFile(*flakePath)
	if err != nil {
		return err
	}
	old, err := nixhash.FlakeVendorHash(flake)
	if err != nil {
		return fmt.Errorf("%s: %w", *flakePath, err)
	}

	work, err := os.MkdirTemp("", "vendorhash-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dir, err := nixhash.DownloadGoModules(ctx, *modRoot, work)
	if err != nil {
		return err
	}
	hash, err := nixhash.HashPath(dir)
	if err != nil {
		return err
	}
	if err := crossCheckWithNix(ctx, dir, hash, stdout); err != nil {
		return err
	}

	switch {
	case hash == old:
		fmt.Fprintf(stdout, "%s: vendorHash %s is current\n", *flakePath, hash)
		return nil
	case *check:
		return fmt.Errorf("%s has vendorHash %s but go.mod/go.sum now need %s: run `make vendorhash` and commit %s", *flakePath, old, hash, *flakePath)
	}
	updated, err := nixhash.SetFlakeVendorHash(flake, hash)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*flakePath, updated, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: vendorHash %s -> %s\n", *flakePath, old, hash)
	return nil
}

// crossCheckWithNix compares our NAR hash with Nix's own where Nix is installed.
func crossCheckWithNix(ctx context.Context, dir, ours string, stdout io.Writer) error {
	nix, err := exec.LookPath("nix")
	if err != nil {
		fmt.Fprintln(stdout, "nix is not installed: using internal/nixhash's NAR hash alone")
		return nil
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, nix, "--extra-experimental-features", "nix-command", "hash", "path", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("nix hash path: %w\n%s", err, strings.TrimSpace(stderr.String()))
	}
	theirs := strings.TrimSpace(string(out))
	if theirs != ours {
		return errors.New("internal/nixhash computed " + ours + " but nix hash path says " + theirs + ": fix internal/nixhash before trusting either")
	}
	fmt.Fprintf(stdout, "nix hash path agrees: %s\n", theirs)
	return nil
}
