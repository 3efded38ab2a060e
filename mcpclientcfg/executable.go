package mcpclientcfg

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// An ExecutableResolver finds the path a client config should use to start the running
// binary. Its zero value inspects the current process.
//
// The path has its symlinks resolved, so that it keeps working when a symlink such as
// ~/bin/x is moved, with one exception: a binary installed in a Nix profile resolves into
// /nix/store/HASH-NAME/..., which disappears on the next upgrade and garbage collection, so
// the profile's stable path (~/.nix-profile/bin/..., /nix/var/nix/profiles/...,
// /etc/profiles/per-user/USER/bin/..., /run/current-system/sw/bin/...) is kept instead
// when it leads to the same file.
type ExecutableResolver struct {
	// Executable returns the running binary; nil means os.Executable.
	Executable func() (string, error)
	// Argv0 is how the binary was invoked; "" means os.Args[0].
	Argv0 string
	// LookPath finds a command in PATH; nil means exec.LookPath.
	LookPath func(string) (string, error)
	// EvalSymlinks resolves symlinks; nil means filepath.EvalSymlinks.
	EvalSymlinks func(string) (string, error)
	// Home is the home directory; "" means os.UserHomeDir.
	Home string
	// User is the user name for /etc/profiles/per-user; "" means $USER.
	User string
}

// ExecutablePath is ExecutableResolver{}.Resolve().
func ExecutablePath() (string, error) { return ExecutableResolver{}.Resolve() }

// Resolve returns the absolute path to put in a client config.
func (r ExecutableResolver) Resolve() (string, error) {
	executable, lookPath, evalSymlinks := r.Executable, r.LookPath, r.EvalSymlinks
	if executable == nil {
		executable = os.Executable
	}
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if evalSymlinks == nil {
		evalSymlinks = filepath.EvalSymlinks
	}
	exe, err := executable()
	if err != nil {
		return "", fmt.Errorf("finding the running binary: %w", err)
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return "", fmt.Errorf("finding the running binary: %w", err)
	}
	resolved, err := evalSymlinks(exe)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", exe, err)
	}
	if !strings.Contains(filepath.ToSlash(resolved), "/nix/store/") {
		return resolved, nil
	}
	for _, cand := range r.nixCandidates(filepath.Base(resolved), lookPath) {
		if !isNixProfilePath(cand) {
			continue
		}
		if got, err := evalSymlinks(cand); err == nil && got == resolved {
			return filepath.Clean(cand), nil
		}
	}
	return resolved, nil
}

// nixCandidates lists paths that may be a profile's stable link to the binary: how it was
// invoked first, then the usual profile locations.
func (r ExecutableResolver) nixCandidates(base string, lookPath func(string) (string, error)) []string {
	var cands []string
	argv0 := r.Argv0
	if argv0 == "" && len(os.Args) > 0 {
		argv0 = os.Args[0]
	}
	if argv0 != "" {
		if strings.ContainsRune(argv0, os.PathSeparator) || strings.ContainsRune(argv0, '/') {
			if abs, err := filepath.Abs(argv0); err == nil {
				cands = append(cands, abs)
			}
		} else if p, err := lookPath(argv0); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				cands = append(cands, abs)
			}
		}
	}
	home := r.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	user := r.User
	if user == "" {
		user = os.Getenv("USER")
	}
	if home != "" {
		cands = append(cands,
			filepath.Join(home, ".nix-profile", "bin", base),
			filepath.Join(home, ".local", "state", "nix", "profile", "bin", base))
	}
	if user != "" {
		cands = append(cands, filepath.Join("/etc/profiles/per-user", user, "bin", base))
	}
	return append(cands,
		filepath.Join("/run/current-system/sw/bin", base),
		filepath.Join("/nix/var/nix/profiles/default/bin", base))
}

// isNixProfilePath reports whether p goes through a Nix profile rather than the store.
func isNixProfilePath(p string) bool {
	p = filepath.ToSlash(p)
	if strings.Contains(p, "/nix/store/") {
		return false
	}
	for _, marker := range []string{"/.nix-profile/", "/nix/var/nix/profiles/", "/etc/profiles/per-user/", "/run/current-system/sw/", "/.local/state/nix/profile"} {
		if strings.Contains(p, marker) {
			return true
		}
	}
	return false
}
