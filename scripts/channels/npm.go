package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// npmPlatform is one platform package: @mcp-cloudrun-proxy/<os>-<cpu> in npm's names
// (process.platform, process.arch), as the launcher looks it up.
type npmPlatform struct {
	Name string
	OS   string
	CPU  string
}

// npmName maps Go's GOOS/GOARCH to Node's process.platform/process.arch ("" if unknown).
func npmName(goName string) string {
	return map[string]string{"linux": "linux", "darwin": "darwin", "windows": "win32", "amd64": "x64", "arm64": "arm64"}[goName]
}

const repoURL = "https://github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy"

// packNpmPlatform writes the package holding one binary and packs it into dist/npm.
func packNpmPlatform(r release, b binary) (npmPlatform, error) {
	p := npmPlatform{OS: npmName(b.Goos), CPU: npmName(b.Goarch)}
	if p.OS == "" || p.CPU == "" {
		return p, fmt.Errorf("no npm platform for %s/%s", b.Goos, b.Goarch)
	}
	p.Name = "@mcp-cloudrun-proxy/" + p.OS + "-" + p.CPU
	dir := filepath.Join(r.Dist, ".stage", "npm", p.OS+"-"+p.CPU)
	if err := copyFile(b.Path, filepath.Join(dir, "bin", exeName(b.Goos)), 0o755); err != nil {
		return p, err
	}
	pkg := map[string]any{
		"name":        p.Name,
		"version":     r.Version,
		"description": "The " + p.OS + "-" + p.CPU + " binary of mcp-cloudrun-proxy; install `mcp-cloudrun-proxy`, which picks it.",
		"license":     "Apache-2.0",
		"repository":  map[string]string{"type": "git", "url": "git+" + repoURL + ".git"},
		"os":          []string{p.OS},
		"cpu":         []string{p.CPU},
		"files":       []string{"bin/", "README.md", "LICENSE"},
		// Yarn PnP must unpack it to run it.
		"preferUnplugged": true,
	}
	return p, packNpm(r, dir, pkg)
}

// packNpmLauncher writes the `mcp-cloudrun-proxy` package: a bin script that execs the binary
// of the platform package npm installed (one of its optionalDependencies, chosen by os/cpu).
// No postinstall step and no download.
func packNpmLauncher(r release, platforms []npmPlatform) error {
	dir := filepath.Join(r.Dist, ".stage", "npm", "launcher")
	if err := copyFile(filepath.Join(r.Root, "scripts", "channels", "launcher.js"), filepath.Join(dir, "bin", "mcp-cloudrun-proxy.js"), 0o755); err != nil {
		return err
	}
	optional := map[string]string{}
	for _, p := range platforms {
		optional[p.Name] = r.Version
	}
	pkg := map[string]any{
		"name":                 "mcp-cloudrun-proxy",
		"version":              r.Version,
		"description":          "Use an IAM-protected MCP server on Google Cloud Run from any local MCP client (stdio MCP server adding Google ID tokens).",
		"license":              "Apache-2.0",
		"repository":           map[string]string{"type": "git", "url": "git+" + repoURL + ".git"},
		"homepage":             repoURL,
		"keywords":             []string{"mcp", "model-context-protocol", "cloud-run", "google-cloud", "iam", "proxy"},
		"bin":                  map[string]string{"mcp-cloudrun-proxy": "bin/mcp-cloudrun-proxy.js"},
		"files":                []string{"bin/", "README.md", "LICENSE"},
		"engines":              map[string]string{"node": ">=18"},
		"optionalDependencies": optional,
	}
	return packNpm(r, dir, pkg)
}

// packNpm adds package.json, README and LICENSE to dir and runs `npm pack` into dist/npm.
func packNpm(r release, dir string, pkg map[string]any) error {
	for _, f := range []string{"README.md", "LICENSE"} {
		if err := copyFile(filepath.Join(r.Root, f), filepath.Join(dir, f), 0o644); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(pkg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	out, err := filepath.Abs(filepath.Join(r.Dist, "npm"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("npm", "pack", "--silent", "--pack-destination", out)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	if msg, err := cmd.Output(); err != nil {
		return fmt.Errorf("npm pack in %s (is npm installed?): %w\n%s", dir, err, msg)
	}
	return nil
}
