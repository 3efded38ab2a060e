package nixhash

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyFixture copies testdata/gomodules (a module "app" that reaches its sibling "lib"
// through `replace example.com/lib => ../lib`) to a temporary directory and returns it.
func copyFixture(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata", "gomodules")))
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGoModulesHashFollowsThirdPartyModulesOnly is the property flake.nix relies on: editing
// the code of the module or of a locally replaced sibling leaves vendorHash alone, and a
// change to the set of third-party modules changes it.
func TestGoModulesHashFollowsThirdPartyModulesOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hash := func(t *testing.T, dir string) string {
		t.Helper()
		h, err := GoModulesHash(ctx, filepath.Join(dir, "app"))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	base := hash(t, copyFixture(t))

	tests := []struct {
		desc     string
		edit     func(t *testing.T, dir string)
		sameHash bool
	}{
		{
			desc: "code of the module and of its replaced sibling edited",
			edit: func(t *testing.T, dir string) {
				appendFile(t, filepath.Join(dir, "app", "main.go"), "\nfunc unused() {}\n")
				appendFile(t, filepath.Join(dir, "lib", "lib.go"), "\n// Extra is new.\nfunc Extra() {}\n")
				if err := os.WriteFile(filepath.Join(dir, "lib", "new.go"), []byte("package lib\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			sameHash: true,
		},
		{
			desc: "third-party module added to the module's go.mod and go.sum",
			edit: func(t *testing.T, dir string) {
				appendFile(t, filepath.Join(dir, "app", "go.mod"), "\nrequire github.com/tidwall/pretty v1.2.0\n")
				appendFile(t, filepath.Join(dir, "app", "go.sum"),
					"github.com/tidwall/pretty v1.2.0 h1:RWIZEg2iJ8/g6fDDYzMpobmaoGh5OLl4AXtGUGPcqCs=\n"+
						"github.com/tidwall/pretty v1.2.0/go.mod h1:ITEVvHYasfjBbM0u2Pg8T2nJnzm8xPwvNhhsoaGGjNU=\n")
			},
			sameHash: false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			dir := copyFixture(t)
			tc.edit(t, dir)
			if got := hash(t, dir); (got == base) != tc.sameHash {
				t.Errorf("hash after the edit = %s, before = %s; want them equal: %v", got, base, tc.sameHash)
			}
		})
	}
}

// TestDownloadGoModulesHoldsOnlyRemoteModules checks the download directory that vendorHash
// covers: the third-party module's files, nothing of the locally replaced sibling, no sumdb.
func TestDownloadGoModulesHoldsOnlyRemoteModules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := DownloadGoModules(ctx, filepath.Join(copyFixture(t), "app"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(files, "\n")
	for _, want := range []string{"github.com/tidwall/match/@v/v1.1.1.zip", "github.com/tidwall/match/@v/v1.1.1.mod"} {
		if !strings.Contains(joined, want) {
			t.Errorf("downloaded files lack %s; have:\n%s", want, joined)
		}
	}
	for _, unwanted := range []string{"example.com", "sumdb/"} {
		if strings.Contains(joined, unwanted) {
			t.Errorf("downloaded files include %s; have:\n%s", unwanted, joined)
		}
	}
}

func TestFlakeVendorHashRoundTrip(t *testing.T) {
	flake := []byte("{\n  x = 1;\n      vendorHash = \"sha256-old=\";\n}\n")
	got, err := FlakeVendorHash(flake)
	if err != nil || got != "sha256-old=" {
		t.Fatalf("FlakeVendorHash = %q, %v; want sha256-old=", got, err)
	}
	updated, err := SetFlakeVendorHash(flake, "sha256-new/+=")
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  x = 1;\n      vendorHash = \"sha256-new/+=\";\n}\n"
	if string(updated) != want {
		t.Errorf("SetFlakeVendorHash gave %q, want %q", updated, want)
	}
	for _, bad := range []string{"{ }", "vendorHash = \"a\";\nvendorHash = \"b\";\n"} {
		if _, err := FlakeVendorHash([]byte(bad)); err == nil {
			t.Errorf("FlakeVendorHash(%q) succeeded, want an error (exactly one vendorHash line)", bad)
		}
	}
}
