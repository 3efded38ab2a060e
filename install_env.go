package main

import (
	"os/exec"
	"path/filepath"
)

// credentialEnvVars are the variables that decide which Google credentials run finds. MCP
// clients pass on little of their environment (Gemini CLI not these, Codex and the MCP
// Inspector a fixed dozen, GUI apps started from the Dock or Start menu what the desktop
// session has), so install-config records the ones set where it runs, where debug would
// have found the same credentials.
var credentialEnvVars = []string{"GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG", "CLOUDSDK_ACTIVE_CONFIG_NAME"}

// recordedEnv is what an entry's env must carry for run to find the credentials that
// install-config's own environment leads to: the credential variables that are set (file
// paths made absolute, as a client starts the server in another directory), and for
// --token-source gcloud or auto a PATH that starts with gcloud's directory, since a GUI
// client's minimal PATH lacks ~/google-cloud-sdk/bin or Homebrew's bin.
func recordedEnv(getenv func(string) string, tokenSource string) map[string]string {
	env := map[string]string{}
	for _, k := range credentialEnvVars {
		v := getenv(k)
		if v == "" {
			continue
		}
		if k != "CLOUDSDK_ACTIVE_CONFIG_NAME" {
			if abs, err := filepath.Abs(v); err == nil {
				v = abs
			}
		}
		env[k] = v
	}
	if tokenSource == "gcloud" || tokenSource == "auto" {
		if p, err := exec.LookPath("gcloud"); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				env["PATH"] = filepath.Dir(abs) + string(filepath.ListSeparator) + getenv("PATH")
			}
		}
	}
	return env
}
