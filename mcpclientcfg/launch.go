package mcpclientcfg

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// A Launch is how a client config starts a program that runs from a package runner's
// cache: Command with Args before the program's own arguments.
type Launch struct {
	Command string
	Args    []string
}

// releaseRE matches a release version (1.2.3, v1.2.3, 1.2.3-rc.1) and not a `git describe`
// of an untagged or modified tree (1.2.3-4-gabcdef0, ...-dirty).
var releaseRE = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-(rc|beta|alpha)[.0-9]*)?$`)

// PackageRunnerLaunch says whether exe, the running binary (symlinks resolved), was started
// by npx or uvx from their cache, whose paths change with every version and cache cleanup:
// then the entry should run `npx -y PKG@VERSION` or `uvx PKG@VERSION` (pinned) instead.
// The rule is the cache layout: npx installs into .../_npx/HASH/node_modules/, uvx into
// uv's cache .../uv/archive-vN/HASH/ (~/.cache/uv, %LOCALAPPDATA%\uv\cache), `pipx run`
// into pipx's .cache/HASH/. A global `npm install -g`, `uv tool install` or `pipx install`
// is a stable install and is not matched. ok is false too when version is not a release,
// which a runner could not fetch.
func PackageRunnerLaunch(exe, pkg, version string) (l Launch, runner string, ok bool) {
	p := filepath.ToSlash(exe)
	switch {
	case strings.Contains(p, "/_npx/") && strings.Contains(p, "/node_modules/"):
		runner = "npx"
	case regexp.MustCompile(`/uv/(cache/)?archive-v\d+/`).MatchString(p):
		runner = "uvx"
	case strings.Contains(p, "/pipx/.cache/") || strings.Contains(p, "/.cache/pipx/"):
		runner = "pipx"
	default:
		return l, "", false
	}
	if !releaseRE.MatchString(version) {
		return l, runner, false
	}
	v := strings.TrimPrefix(version, "v")
	switch runner {
	case "npx":
		return Launch{Command: "npx", Args: []string{"-y", pkg + "@" + v}}, runner, true
	case "uvx":
		return Launch{Command: "uvx", Args: []string{pkg + "@" + v}}, runner, true
	}
	return Launch{Command: "pipx", Args: []string{"run", "--spec", pkg + "==" + v, pkg}}, runner, true
}

// runnerPackage returns the package an npx, uvx or pipx command line runs: the first
// argument that is not an option, without its version.
func runnerPackage(e ServerEntry) string {
	base := strings.ToLower(path.Base(strings.ReplaceAll(e.Command, `\`, "/")))
	for _, ext := range []string{".cmd", ".exe", ".bat"} {
		base = strings.TrimSuffix(base, ext)
	}
	if base != "npx" && base != "uvx" && base != "pipx" {
		return ""
	}
	args := e.Args
	if base == "pipx" {
		for i, a := range args {
			if a == "--spec" && i+1 < len(args) {
				return strings.SplitN(args[i+1], "==", 2)[0]
			}
		}
		if len(args) > 0 && args[0] == "run" {
			args = args[1:]
		}
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if i := strings.LastIndex(a, "@"); i > 0 {
			a = a[:i]
		}
		return strings.SplitN(a, "==", 2)[0]
	}
	return ""
}

// VolatileReason says why exe is a poor path to write into a client config: it is in a
// temporary directory, or in a source checkout (a build tree, which `make clean` or a
// rebuild changes). "" when neither.
func VolatileReason(exe string) string {
	p := filepath.Clean(exe)
	// A checkout is named first, even one under a temporary directory: "make install" is
	// the fix either way, and the checkout says where the binary came from.
	for dir := filepath.Dir(p); filepath.Dir(dir) != dir; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return "is in a build tree (the source checkout " + dir + ")"
		}
	}
	for _, tmp := range []string{os.TempDir(), "/tmp", "/var/tmp", "/private/var/folders"} {
		if tmp != "" && strings.HasPrefix(p, filepath.Clean(tmp)+string(filepath.Separator)) {
			return "is in a temporary directory"
		}
	}
	return ""
}
