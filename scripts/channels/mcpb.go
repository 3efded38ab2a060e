package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// mcpbUserConfig is what Claude Desktop asks when the extension is installed; each field maps
// to a `run` flag in mcpbManifest's args.
func mcpbUserConfig() map[string]any {
	return map[string]any{
		"url": map[string]any{
			"type": "string", "title": "Cloud Run MCP URL", "required": true,
			"description": "The Streamable HTTP MCP endpoint of your Cloud Run service, e.g. https://my-service-abc123-uc.a.run.app/mcp (--url).",
		},
		"token_source": map[string]any{
			"type": "string", "title": "Token source", "required": false, "default": "auto",
			"description": "Where ID tokens come from: auto, google-auth (Application Default Credentials) or gcloud (--token-source).",
		},
		"audience": map[string]any{
			"type": "string", "title": "Audience", "required": false, "default": "",
			"description": "ID token audience; leave empty for the service URL (--audience).",
		},
		"impersonate_service_account": map[string]any{
			"type": "string", "title": "Impersonated service account", "required": false, "default": "",
			"description": "Mint tokens as this service account, e.g. mcp-client@my-project.iam.gserviceaccount.com; needs roles/iam.serviceAccountTokenCreator on it (--impersonate-service-account).",
		},
	}
}

// mcpbManifest is the extension's manifest.json (manifest_version 0.3) for one platform.
func mcpbManifest(version, goos, entry string) map[string]any {
	platform := map[string]string{"darwin": "darwin", "windows": "win32", "linux": "linux"}[goos]
	return map[string]any{
		"manifest_version": "0.3",
		"name":             "mcp-cloudrun-proxy",
		"display_name":     "Cloud Run MCP (IAM) proxy",
		"version":          version,
		"description":      "Use an IAM-protected MCP server on Google Cloud Run: relays MCP to it, adding Google ID tokens.",
		"long_description": "Runs `mcp-cloudrun-proxy run`, a stdio MCP server that relays every message to your Cloud Run service's Streamable HTTP endpoint with `Authorization: Bearer <Google ID token>`, refreshing tokens and renewing sessions. Credentials come from Application Default Credentials (`gcloud auth application-default login`) or the gcloud CLI. Run `mcp-cloudrun-proxy debug --url URL` to find out what is wrong when it does not connect.",
		"author":           map[string]string{"name": "mcp-cloudrun-proxy maintainers", "url": repoURL},
		"repository":       map[string]string{"type": "git", "url": repoURL},
		"homepage":         repoURL,
		"license":          "Apache-2.0",
		"keywords":         []string{"mcp", "cloud-run", "google-cloud", "iam", "proxy"},
		"server": map[string]any{
			"type":        "binary",
			"entry_point": entry,
			"mcp_config": map[string]any{
				"command": "${__dirname}/" + entry,
				// --flag=value keeps an empty optional value from shifting the arguments; an
				// empty --audience or --impersonate-service-account means "not set" to run.
				"args": []string{
					"run",
					"--url=${user_config.url}",
					"--token-source=${user_config.token_source}",
					"--audience=${user_config.audience}",
					"--impersonate-service-account=${user_config.impersonate_service_account}",
				},
			},
		},
		"user_config":   mcpbUserConfig(),
		"compatibility": map[string]any{"platforms": []string{platform}},
	}
}

// writeMcpb writes dist/mcpb/mcp-cloudrun-proxy-<version>-<os>-<arch>.mcpb: a zip of
// manifest.json, the binary under server/, README and LICENSE.
func writeMcpb(r release, b binary) error {
	entry := "server/" + exeName(b.Goos)
	manifest, err := json.MarshalIndent(mcpbManifest(r.Version, b.Goos, entry), "", "  ")
	if err != nil {
		return err
	}
	exe, err := os.ReadFile(b.Path)
	if err != nil {
		return err
	}
	files := []wheelFile{
		{Name: "manifest.json", Data: append(manifest, '\n'), Mode: 0o644},
		{Name: entry, Data: exe, Mode: 0o755},
	}
	for _, f := range []string{"README.md", "LICENSE"} {
		data, err := os.ReadFile(filepath.Join(r.Root, f))
		if err != nil {
			return err
		}
		files = append(files, wheelFile{Name: f, Data: data, Mode: 0o644})
	}
	name := fmt.Sprintf("mcp-cloudrun-proxy-%s-%s-%s.mcpb", r.Version, b.Goos, b.Goarch)
	return writeZip(filepath.Join(r.Dist, "mcpb", name), files)
}
