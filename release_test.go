package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// releaseTool returns one of the pinned GoReleaser and mcpb CLI that `make test` builds or installs
// once into a cache outside the clone and passes in; `go test` alone has neither.
func releaseTool(t *testing.T, env, what string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Skipf("%s is not set: the pinned %s is not built or installed here. Run `make tools` once (it goes to ~/.cache/mcp-cloudrun-proxy/tools; GoReleaser takes about 20 minutes to build on a fresh machine, which is why make test does not build it), then make test runs this test; TestChannelsWithoutGoreleaser covers npm, wheels and extensions meanwhile", env, what)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v", env, p, err)
	}
	return p
}

// lookOrSkip finds a command the test needs on PATH.
func lookOrSkip(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (%s)", name, install)
	}
	return p
}

// runIn runs name args in dir with a deadline and fails the test with its output on error.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestGoreleaserCheck(t *testing.T) {
	goreleaser := releaseTool(t, "MCP_CLOUDRUN_PROXY_GORELEASER", "GoReleaser")
	runIn(t, ".", nil, goreleaser, "check")
}

// TestReleaseSnapshot runs `make release-snapshot` and installs what it made as a user
// would: the host's npm packages with npm, its wheel with pip, the deb's file list, the
// extensions' manifests through `mcpb validate`.
func TestReleaseSnapshot(t *testing.T) {
	releaseTool(t, "MCP_CLOUDRUN_PROXY_GORELEASER", "GoReleaser")
	lookOrSkip(t, "npm", "make release-snapshot packs the npm packages with `npm pack`; apt-get install npm")
	start := time.Now()
	runIn(t, ".", nil, "make", "--no-print-directory", "release-snapshot")
	t.Logf("make release-snapshot took %v", time.Since(start).Round(time.Second))
	var meta struct{ Version string }
	if err := json.Unmarshal(readFile(t, "dist/metadata.json"), &meta); err != nil {
		t.Fatal(err)
	}
	v := meta.Version
	t.Run("archives and checksums", func(t *testing.T) { checkArchives(t, v) })
	t.Run("deb", func(t *testing.T) { checkDeb(t, v) })
	t.Run("homebrew formula", func(t *testing.T) { checkFormula(t, v) })
	t.Run("npm", func(t *testing.T) { checkNpm(t, v) })
	t.Run("wheel", func(t *testing.T) { checkWheel(t, v) })
	t.Run("mcpb", func(t *testing.T) { checkMcpb(t, v) })
}

// TestChannelsWithoutGoreleaser packs the npm packages, wheels and extensions from binaries
// built here with go build, as GoReleaser builds them, and installs them as TestReleaseSnapshot
// does. GoReleaser itself takes about 20 minutes to build on a fresh machine, too long for CI;
// this test needs only go and npm, so every CI run covers these channels.
func TestChannelsWithoutGoreleaser(t *testing.T) {
	lookOrSkip(t, "npm", "scripts/channels packs the npm packages with `npm pack`; apt-get install npm")
	tmp := t.TempDir()
	dist := filepath.Join(tmp, "dist")
	const v = "0.0.1-dev.abc1234"
	var artifacts []map[string]string
	for _, p := range platforms {
		out := filepath.Join(dist, "mcp-cloudrun-proxy_"+p[0]+"_"+p[1], exeFile(p[0]))
		runIn(t, ".", []string{"GOOS=" + p[0], "GOARCH=" + p[1], "CGO_ENABLED=0", "GOWORK=off"},
			"go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+v+" -X main.commit=abc1234", "-o", out, ".")
		artifacts = append(artifacts, map[string]string{"name": exeFile(p[0]), "path": out, "goos": p[0], "goarch": p[1], "type": "Binary"})
	}
	for name, v := range map[string]any{"metadata.json": map[string]string{"version": v}, "artifacts.json": artifacts} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dist, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runIn(t, ".", nil, "go", "run", "./scripts/channels", "-dist", dist)
	t.Chdir(tmp) // the checks read dist/ relative to the working directory
	t.Run("npm", func(t *testing.T) { checkNpm(t, v) })
	t.Run("wheel", func(t *testing.T) { checkWheel(t, v) })
	t.Run("mcpb", func(t *testing.T) { checkMcpb(t, v) })
}

func exeFile(goos string) string {
	if goos == "windows" {
		return "mcp-cloudrun-proxy.exe"
	}
	return "mcp-cloudrun-proxy"
}

func mustAbs(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// platforms are the release's OS/arch pairs.
var platforms = [][2]string{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}, {"windows", "arm64"}}

// checksums parses dist/checksums.txt into file name -> sha256.
func checksums(t *testing.T) map[string]string {
	sums := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(readFile(t, "dist/checksums.txt"))), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			sums[f[1]] = f[0]
		}
	}
	return sums
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func checkArchives(t *testing.T, v string) {
	sums := checksums(t)
	for _, p := range platforms {
		name := "mcp-cloudrun-proxy_" + v + "_" + p[0] + "_" + p[1] + ".tar.gz"
		exe := "mcp-cloudrun-proxy"
		if p[0] == "windows" {
			name, exe = strings.TrimSuffix(name, ".tar.gz")+".zip", exe+".exe"
		}
		data := readFile(t, filepath.Join("dist", name))
		if got := sums[name]; got != sha256Hex(data) {
			t.Errorf("checksums.txt has %q for %s, the file hashes to %s", got, name, sha256Hex(data))
		}
		members := archiveMembers(t, name, data)
		for _, want := range []string{exe, "README.md", "LICENSE", "completions/_mcp-cloudrun-proxy"} {
			if _, ok := members[want]; !ok {
				t.Errorf("%s lacks %s; it holds %v", name, want, members)
			}
		}
		if p[0] != "windows" && members[exe]&0o111 == 0 {
			t.Errorf("%s: %s is not executable (mode %v)", name, exe, members[exe])
		}
	}
}

// archiveMembers lists a tar.gz's or zip's files with their modes.
func archiveMembers(t *testing.T, name string, data []byte) map[string]os.FileMode {
	out := map[string]os.FileMode{}
	if strings.HasSuffix(name, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range zr.File {
			out[f.Name] = f.Mode()
		}
		return out
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[strings.TrimPrefix(h.Name, "./")] = os.FileMode(h.Mode)
	}
}

func checkDeb(t *testing.T, v string) {
	dpkgDeb := lookOrSkip(t, "dpkg-deb", "apt-get install dpkg")
	// nfpm's conventional names: 1.2.4-dev.abc becomes 1.2.4~dev.abc, so it sorts before 1.2.4.
	debs, _ := filepath.Glob("dist/mcp-cloudrun-proxy_*_amd64.deb")
	if len(debs) != 1 {
		t.Fatalf("want one amd64 deb in dist/, got %v", debs)
	}
	deb := debs[0]
	if info := runIn(t, ".", nil, dpkgDeb, "--field", deb, "Version"); strings.TrimSpace(info) != strings.Replace(v, "-", "~", 1) {
		t.Errorf("%s has version %q, want %s", deb, info, v)
	}
	list := runIn(t, ".", nil, dpkgDeb, "--contents", deb)
	for _, want := range []string{" ./usr/bin/mcp-cloudrun-proxy\n", " ./usr/share/doc/mcp-cloudrun-proxy/copyright\n", " ./usr/share/bash-completion/completions/mcp-cloudrun-proxy\n"} {
		if !strings.Contains(list, want) {
			t.Errorf("%s lacks%s:\n%s", deb, strings.TrimSuffix(want, "\n"), list)
		}
	}
	if !strings.Contains(list, "-rwxr-xr-x root/root") {
		t.Errorf("%s: no executable owned by root:\n%s", deb, list)
	}
	rpms, _ := filepath.Glob("dist/mcp-cloudrun-proxy-*.x86_64.rpm")
	if len(rpms) != 1 {
		t.Errorf("want one x86_64 rpm in dist/, got %v", rpms)
	}
}

func checkFormula(t *testing.T, v string) {
	rb := string(readFile(t, "dist/homebrew/Formula/mcp-cloudrun-proxy.rb"))
	sums := checksums(t)
	for _, p := range platforms[:4] {
		name := "mcp-cloudrun-proxy_" + v + "_" + p[0] + "_" + p[1] + ".tar.gz"
		// The url names the release's tag (v0.0.0 in a snapshot), then the archive.
		re := regexp.MustCompile(`url "https://github\.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/releases/download/v[^/"]+/` +
			regexp.QuoteMeta(name) + `"\s+sha256 "` + sums[name] + `"`)
		if sums[name] == "" || !re.MatchString(rb) {
			t.Errorf("formula lacks the url of %s with sha256 %q:\n%s", name, sums[name], rb)
		}
	}
	if !strings.Contains(rb, `bin.install "mcp-cloudrun-proxy"`) || !strings.Contains(rb, `license "Apache-2.0"`) {
		t.Errorf("formula lacks the install step or the license:\n%s", rb)
	}
}

// npmPlatform is the host in npm's names, e.g. linux-x64.
func npmPlatform() string {
	os, cpu := runtime.GOOS, runtime.GOARCH
	if os == "windows" {
		os = "win32"
	}
	if cpu == "amd64" {
		cpu = "x64"
	}
	return os + "-" + cpu
}

func checkNpm(t *testing.T, v string) {
	npm := lookOrSkip(t, "npm", "apt-get install npm")
	launcher, _ := filepath.Abs("dist/npm/mcp-cloudrun-proxy-" + v + ".tgz")
	platform, _ := filepath.Abs("dist/npm/mcp-cloudrun-proxy-" + npmPlatform() + "-" + v + ".tgz")
	dir := t.TempDir()
	env := []string{"npm_config_cache=" + filepath.Join(dir, ".npm-cache"), "npm_config_update_notifier=false"}
	runIn(t, dir, env, npm, "install", "--no-audit", "--no-fund", launcher, platform)
	got := runIn(t, dir, env, "npx", "--no-install", "mcp-cloudrun-proxy", "--version")
	if !strings.HasPrefix(got, "mcp-cloudrun-proxy "+v+" ") {
		t.Errorf("npx mcp-cloudrun-proxy --version printed %q, want version %s", got, v)
	}
	// The launcher hands on the binary's exit code and stderr: bare invocation is usage, exit 2.
	bare := exec.Command("npx", "--no-install", "mcp-cloudrun-proxy")
	bare.Dir, bare.Env = dir, append(os.Environ(), env...)
	out, err := bare.CombinedOutput()
	if code := bare.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "Usage: mcp-cloudrun-proxy <command>") {
		t.Errorf("npx mcp-cloudrun-proxy (no arguments): exit %d (%v), want 2 with usage:\n%s", code, err, out)
	}
	if runtime.GOOS != "windows" {
		checkLauncherForwardsSIGTERM(t, dir)
	}
	for _, p := range []string{"node_modules/mcp-cloudrun-proxy/LICENSE", "node_modules/@mcp-cloudrun-proxy/" + npmPlatform() + "/LICENSE"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("npm package lacks its LICENSE: %v", err)
		}
	}
	var pkg struct {
		OS, CPU []string
		Bin     map[string]string
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "node_modules/@mcp-cloudrun-proxy", npmPlatform(), "package.json")), &pkg); err != nil {
		t.Fatal(err)
	}
	if len(pkg.OS) != 1 || len(pkg.CPU) != 1 || pkg.OS[0]+"-"+pkg.CPU[0] != npmPlatform() {
		t.Errorf("platform package has os %v cpu %v, want %s", pkg.OS, pkg.CPU, npmPlatform())
	}
	var launcherPkg struct {
		Scripts              map[string]string
		OptionalDependencies map[string]string
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "node_modules/mcp-cloudrun-proxy/package.json")), &launcherPkg); err != nil {
		t.Fatal(err)
	}
	if len(launcherPkg.Scripts) != 0 {
		t.Errorf("the launcher has scripts %v; it must install nothing and download nothing", launcherPkg.Scripts)
	}
	for _, p := range []string{"linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64", "win32-arm64"} {
		if got := launcherPkg.OptionalDependencies["@mcp-cloudrun-proxy/"+p]; got != v {
			t.Errorf("launcher optionalDependencies[@mcp-cloudrun-proxy/%s] = %q, want %s", p, got, v)
		}
	}
	if pkgs, _ := filepath.Glob("dist/npm/mcp-cloudrun-proxy-*-*-" + v + ".tgz"); len(pkgs) != len(platforms) {
		t.Errorf("dist/npm holds %d platform packages, want %d: %v", len(pkgs), len(platforms), pkgs)
	}
}

func checkWheel(t *testing.T, v string) {
	python := lookOrSkip(t, "python3", "apt-get install python3-venv")
	tag := map[string]string{
		"linux/amd64": "manylinux_2_17_x86_64", "linux/arm64": "manylinux_2_17_aarch64",
		"darwin/amd64": "macosx_12_0_x86_64", "darwin/arm64": "macosx_12_0_arm64",
	}[runtime.GOOS+"/"+runtime.GOARCH]
	if tag == "" {
		t.Skipf("no wheel is installed on %s/%s here", runtime.GOOS, runtime.GOARCH)
	}
	wheels, _ := filepath.Glob("dist/pypi/mcp_cloudrun_proxy-*-py3-none-" + tag + "*.whl")
	if len(wheels) != 1 {
		t.Fatalf("want one %s wheel in dist/pypi, got %v", tag, wheels)
	}
	whl, _ := filepath.Abs(wheels[0])
	venv := filepath.Join(t.TempDir(), "venv")
	runIn(t, ".", nil, python, "-m", "venv", venv)
	runIn(t, ".", []string{"PIP_DISABLE_PIP_VERSION_CHECK=1"}, filepath.Join(venv, "bin", "pip"), "install", "--no-index", whl)
	for _, argv := range [][]string{{filepath.Join(venv, "bin", "mcp-cloudrun-proxy"), "--version"}, {filepath.Join(venv, "bin", "python"), "-m", "mcp_cloudrun_proxy", "--version"}} {
		if got := runIn(t, ".", nil, argv[0], argv[1:]...); !strings.HasPrefix(got, "mcp-cloudrun-proxy "+v+" ") {
			t.Errorf("%v printed %q, want version %s", argv, got, v)
		}
	}
	if lic, _ := filepath.Glob(filepath.Join(venv, "lib", "python*", "site-packages", "mcp_cloudrun_proxy-*.dist-info", "licenses", "LICENSE")); len(lic) != 1 {
		t.Errorf("the installed wheel lacks dist-info/licenses/LICENSE")
	}
	if all, _ := filepath.Glob("dist/pypi/*.whl"); len(all) != len(platforms) {
		t.Errorf("dist/pypi holds %d wheels, want %d: %v", len(all), len(platforms), all)
	}
}

func checkMcpb(t *testing.T, v string) {
	mcpb := releaseTool(t, "MCP_CLOUDRUN_PROXY_MCPB", "@anthropic-ai/mcpb CLI")
	for _, p := range platforms {
		name := "dist/mcpb/mcp-cloudrun-proxy-" + v + "-" + p[0] + "-" + p[1] + ".mcpb"
		zr, err := zip.OpenReader(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var manifest []byte
		modes := map[string]os.FileMode{}
		for _, f := range zr.File {
			modes[f.Name] = f.Mode()
			if f.Name == "manifest.json" {
				rc, _ := f.Open()
				manifest, _ = io.ReadAll(rc)
				rc.Close()
			}
		}
		zr.Close()
		var m struct {
			Server struct {
				Type       string                  `json:"type"`
				EntryPoint string                  `json:"entry_point"`
				MCPConfig  struct{ Args []string } `json:"mcp_config"`
			} `json:"server"`
			UserConfig map[string]any `json:"user_config"`
		}
		if err := json.Unmarshal(manifest, &m); err != nil {
			t.Fatalf("%s manifest.json: %v", name, err)
		}
		if m.Server.Type != "binary" || modes[m.Server.EntryPoint]&0o111 == 0 || modes["LICENSE"] == 0 {
			t.Errorf("%s: server %+v, modes %v: want a binary entry point that is executable, and LICENSE", name, m.Server, modes)
		}
		for _, k := range []string{"url", "token_source", "audience", "impersonate_service_account"} {
			if m.UserConfig[k] == nil || !strings.Contains(strings.Join(m.Server.MCPConfig.Args, " "), "${user_config."+k+"}") {
				t.Errorf("%s: user_config %q missing or not mapped to a run flag: %s", name, k, manifest)
			}
		}
		dir := t.TempDir()
		runIn(t, dir, nil, mcpb, "unpack", mustAbs(t, name), dir)
		if got, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err != nil || !bytes.Equal(got, manifest) {
			t.Fatalf("mcpb unpack %s: manifest.json %v", name, err)
		}
		out := runIn(t, dir, nil, mcpb, "validate", "manifest.json")
		if !strings.Contains(out, "validation passes") {
			t.Errorf("mcpb validate %s: %s", name, out)
		}
	}
}

// TestReadmeNpxConfig keeps the README's npx example a config Claude Desktop can load that
// starts `run` through the npm launcher.
func TestReadmeNpxConfig(t *testing.T) {
	readme := string(readFile(t, "README.md"))
	_, block, ok := strings.Cut(readme, "<!-- npx-config:begin -->\n```json\n")
	block, _, ok2 := strings.Cut(block, "```\n<!-- npx-config:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md lacks the npx-config block")
	}
	var cfg struct {
		MCPServers map[string]struct {
			Command string
			Args    []string
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(block), &cfg); err != nil {
		t.Fatalf("the npx config in README.md is not JSON: %v\n%s", err, block)
	}
	for name, s := range cfg.MCPServers {
		if s.Command != "npx" || len(s.Args) < 5 || s.Args[0] != "-y" || !strings.HasPrefix(s.Args[1], "mcp-cloudrun-proxy@") || s.Args[2] != "run" || s.Args[3] != "--url" {
			t.Errorf("server %q: %s %v is not `npx -y mcp-cloudrun-proxy@VERSION run --url URL`", name, s.Command, s.Args)
		}
	}
}

// checkLauncherForwardsSIGTERM replaces the installed binary with a shell script that records
// SIGTERM, starts it through the npm launcher and sends SIGTERM to node, as an MCP client
// stopping its server does: the signal must reach the binary and node must then exit.
func checkLauncherForwardsSIGTERM(t *testing.T, dir string) {
	marker := filepath.Join(dir, "got-sigterm")
	stub := "#!/bin/sh\ntrap 'echo TERM > \"" + marker + "\"; exit 0' TERM\necho ready\nwhile :; do sleep 1 & wait $!; done\n"
	bin := filepath.Join(dir, "node_modules/@mcp-cloudrun-proxy", npmPlatform(), "bin/mcp-cloudrun-proxy")
	if err := os.WriteFile(bin, []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "node_modules/mcp-cloudrun-proxy/bin/mcp-cloudrun-proxy.js"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("ready\n"))
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "ready\n" {
		t.Fatalf("the launcher did not start the binary: %q %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("node after SIGTERM: %v (want exit 0, the binary's own exit code)", err)
	}
	if got, err := os.ReadFile(marker); err != nil || string(got) != "TERM\n" {
		t.Errorf("the binary never got SIGTERM from the launcher: %q %v", got, err)
	}
}
