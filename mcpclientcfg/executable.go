package mcpclientcfg

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// An executableResolver finds the path a client config should use to start the running
// binary. Its zero value inspects the current process.
//
// The path has its symlinks resolved, so that it keeps working when a symlink such as
// ~/bin/x is moved, with one exception: a binary installed in a Nix profile resolves into
// /nix/store/HASH-NAME/..., which disappears on the next upgrade and garbage collection, so
// the profile's stable path (~/.nix-profile/bin/..., /nix/var/nix/profiles/...,
// /etc/profiles/per-user/USER/bin/..., /run/current-system/sw/bin/...) is kept instead
// when it leads to the same file. Likewise a Homebrew binary resolves into
// Cellar/NAME/VERSION/, which an upgrade deletes, so the bin/ link it was started through
// (/opt/homebrew/bin, /usr/local/bin, /home/linuxbrew/.linuxbrew/bin) is kept.
type executableResolver struct {
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

// ExecutablePath is executableResolver{}.Resolve().
func ExecutablePath() (string, error) { return executableResolver{}.Resolve() }

// Resolve returns the absolute path to put in a client config.
func (r executableResolver) Resolve() (string, error) {
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
	if isHomebrewCellarPath(resolved) {
		// Homebrew's bin/ links into Cellar/NAME/VERSION/, which `brew upgrade` and
		// `brew cleanup` delete: keep the link the binary was started through.
		for _, cand := range r.homebrewCandidates(exe, filepath.Base(resolved), lookPath) {
			if isHomebrewCellarPath(cand) || strings.Contains(filepath.ToSlash(cand), "/nix/store/") {
				continue
			}
			if got, err := evalSymlinks(cand); err == nil && got == resolved {
				return filepath.Clean(cand), nil
			}
		}
		return resolved, nil
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

// isHomebrewCellarPath reports whether p is inside a Homebrew keg, a versioned directory.
func isHomebrewCellarPath(p string) bool {
	return strings.Contains(filepath.ToSlash(p), "/Cellar/")
}

// homebrewCandidates lists paths that may be Homebrew's stable link to the binary: the
// running binary's unresolved path, how it was invoked, then the bin/ of the usual
// prefixes (Apple silicon, Intel macOS, Linux).
func (r executableResolver) homebrewCandidates(exe, base string, lookPath func(string) (string, error)) []string {
	cands := append([]string{exe}, r.invoked(lookPath)...)
	cands = append(cands,
		filepath.Join("/opt/homebrew/bin", base),
		filepath.Join("/usr/local/bin", base),
		filepath.Join("/home/linuxbrew/.linuxbrew/bin", base))
	if home := r.home(); home != "" {
		cands = append(cands, filepath.Join(home, ".linuxbrew", "bin", base))
	}
	return cands
}

func (r executableResolver) home() string {
	if r.Home != "" {
		return r.Home
	}
	home, _ := os.UserHomeDir()
	return home
}

// invoked is the absolute path the binary was started as (argv[0], looked up in PATH
// when it has no directory), if known.
func (r executableResolver) invoked(lookPath func(string) (string, error)) []string {
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
	return cands
}

// nixCandidates lists paths that may be a profile's stable link to the binary: how it was
// invoked first, then the usual profile locations.
func (r executableResolver) nixCandidates(base string, lookPath func(string) (string, error)) []string {
	cands := r.invoked(lookPath)
	home := r.home()
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
