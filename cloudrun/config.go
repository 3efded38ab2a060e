package cloudrun

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A Location is the project and region a command works in, with where each came from.
type Location struct {
	Project, Region         string
	ProjectFrom, RegionFrom string
}

// DefaultLocation fills project and region, in order, from the flags given, the environment
// (CLOUDSDK_CORE_PROJECT, GOOGLE_CLOUD_PROJECT; CLOUDSDK_RUN_REGION) and gcloud's active
// configuration (core/project, run/region), as gcloud itself does. getenv is os.Getenv in
// production; a field stays empty when nothing names it.
func DefaultLocation(getenv func(string) string, project, region string) Location {
	l := Location{Project: project, Region: region}
	if project != "" {
		l.ProjectFrom = "--project"
	}
	if region != "" {
		l.RegionFrom = "--region"
	}
	for _, k := range []string{"CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT"} {
		if v := getenv(k); l.Project == "" && v != "" {
			l.Project, l.ProjectFrom = v, k
		}
	}
	if v := getenv("CLOUDSDK_RUN_REGION"); l.Region == "" && v != "" {
		l.Region, l.RegionFrom = v, "CLOUDSDK_RUN_REGION"
	}
	if l.Project != "" && l.Region != "" {
		return l
	}
	cfg, name, err := gcloudConfig(getenv)
	if err != nil {
		return l
	}
	from := "gcloud configuration " + name
	if v := cfg["core/project"]; l.Project == "" && v != "" {
		l.Project, l.ProjectFrom = v, from+" (core/project)"
	}
	if v := cfg["run/region"]; l.Region == "" && v != "" {
		l.Region, l.RegionFrom = v, from+" (run/region)"
	}
	return l
}

// gcloudDir is gcloud's configuration directory: CLOUDSDK_CONFIG, %APPDATA%\gcloud or
// ~/.config/gcloud.
func gcloudDir(getenv func(string) string) string {
	if d := getenv("CLOUDSDK_CONFIG"); d != "" {
		return d
	}
	if a := getenv("APPDATA"); a != "" {
		return filepath.Join(a, "gcloud")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "gcloud")
	}
	return ""
}

// gcloudConfig reads the active gcloud configuration (CLOUDSDK_ACTIVE_CONFIG_NAME, else the
// active_config file, else "default") as section/key -> value. Reading the file, rather than
// running `gcloud config get`, costs no second of Python start-up and works without gcloud.
func gcloudConfig(getenv func(string) string) (map[string]string, string, error) {
	dir := gcloudDir(getenv)
	if dir == "" {
		return nil, "", errors.New("no gcloud configuration directory")
	}
	name := getenv("CLOUDSDK_ACTIVE_CONFIG_NAME")
	if name == "" {
		if b, err := os.ReadFile(filepath.Join(dir, "active_config")); err == nil {
			name = strings.TrimSpace(string(b))
		}
	}
	if name == "" {
		name = "default"
	}
	f, err := os.Open(filepath.Join(dir, "configurations", "config_"+name))
	if err != nil {
		return nil, name, fmt.Errorf("gcloud configuration %s: %w", name, err)
	}
	defer f.Close()
	return parseINI(f), name, nil
}

// parseINI reads gcloud's properties format: [section] headers and key = value lines.
func parseINI(f *os.File) map[string]string {
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(line[1 : len(line)-1])
		default:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[section+"/"+strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}
