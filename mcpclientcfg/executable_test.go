package mcpclientcfg

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestExecutableResolver(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mk := func(p string) string {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(target, p string) string {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A Nix layout: the store, a profile generation whose bin/ links into the store,
	// profile -> generation, ~/.nix-profile -> profile.
	store := mk("nix/store/abc-mcp-cloudrun-proxy-1.0/bin/mcp-cloudrun-proxy")
	link(store, "nix/var/nix/profiles/per-user/u/profile-7-link/bin/mcp-cloudrun-proxy")
	link(filepath.Join(root, "nix/var/nix/profiles/per-user/u/profile-7-link"), "nix/var/nix/profiles/per-user/u/profile")
	home := filepath.Join(root, "home")
	link(filepath.Join(root, "nix/var/nix/profiles/per-user/u/profile"), "home/.nix-profile")
	profileBin := filepath.Join(home, ".nix-profile/bin/mcp-cloudrun-proxy")
	systemProfile := link(store, "nix/var/nix/profiles/default/bin/mcp-cloudrun-proxy")
	// Not Nix: ~/bin/x -> /opt/x/bin/x.
	opt := mk("opt/x/bin/mcp-cloudrun-proxy")
	optLink := link(opt, "home2/bin/mcp-cloudrun-proxy")
	// Nix store with no profile pointing at it.
	orphan := mk("nix/store/zzz-mcp-cloudrun-proxy-0.9/bin/mcp-cloudrun-proxy")

	// Homebrew: PREFIX/bin/x -> ../Cellar/x/VERSION/bin/x; the Cellar path goes on upgrade.
	cellar := mk("opt/homebrew/Cellar/mcp-cloudrun-proxy/1.2.0/bin/mcp-cloudrun-proxy")
	oldCellar := mk("opt/homebrew/Cellar/mcp-cloudrun-proxy/1.1.0/bin/mcp-cloudrun-proxy")
	brewBin := link("../Cellar/mcp-cloudrun-proxy/1.2.0/bin/mcp-cloudrun-proxy", "opt/homebrew/bin/mcp-cloudrun-proxy")

	noPath := func(string) (string, error) { return "", errors.New("not in PATH") }
	for _, tc := range []struct {
		desc string
		r    executableResolver
		want string
	}{
		{
			desc: "nix profile found through PATH",
			r:    executableResolver{Executable: fixed(store), Argv0: "mcp-cloudrun-proxy", LookPath: func(string) (string, error) { return profileBin, nil }, Home: "/nonexistent", User: "nobody"},
			want: profileBin,
		},
		{
			desc: "nix profile found in the home directory",
			r:    executableResolver{Executable: fixed(store), Argv0: store, LookPath: noPath, Home: home, User: "nobody"},
			want: profileBin,
		},
		{
			desc: "system profile invoked by path",
			r:    executableResolver{Executable: fixed(store), Argv0: systemProfile, LookPath: noPath, Home: "/nonexistent", User: "nobody"},
			want: systemProfile,
		},
		{
			desc: "symlinks resolved outside nix",
			r:    executableResolver{Executable: fixed(optLink), Argv0: optLink, LookPath: noPath, Home: home, User: "nobody"},
			want: opt,
		},
		{
			desc: "homebrew bin link found through PATH",
			r:    executableResolver{Executable: fixed(cellar), Argv0: "mcp-cloudrun-proxy", LookPath: func(string) (string, error) { return brewBin, nil }, Home: home, User: "nobody"},
			want: brewBin,
		},
		{
			desc: "homebrew bin link as the running binary's path",
			r:    executableResolver{Executable: fixed(brewBin), Argv0: "mcp-cloudrun-proxy", LookPath: noPath, Home: home, User: "nobody"},
			want: brewBin,
		},
		{
			desc: "cellar path kept when the bin link leads to another version",
			r:    executableResolver{Executable: fixed(oldCellar), Argv0: "mcp-cloudrun-proxy", LookPath: func(string) (string, error) { return brewBin, nil }, Home: home, User: "nobody"},
			want: oldCellar,
		},
		{
			desc: "cellar path kept when invoked by it",
			r:    executableResolver{Executable: fixed(cellar), Argv0: cellar, LookPath: noPath, Home: home, User: "nobody"},
			want: cellar,
		},
		{
			desc: "store path kept when no profile leads to it",
			r:    executableResolver{Executable: fixed(orphan), Argv0: "mcp-cloudrun-proxy", LookPath: func(string) (string, error) { return profileBin, nil }, Home: home, User: "nobody"},
			want: orphan,
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := tc.r.Resolve()
			if err != nil || got != tc.want {
				t.Errorf("Resolve() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func fixed(p string) func() (string, error) { return func() (string, error) { return p, nil } }
