package nixhash

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one thing to create under a test tree's root: a file (mode 0o644 or, when exec,
// 0o755), a symlink (link set) or a directory (dir set). An empty path means the root itself.
type entry struct {
	path     string
	contents string
	exec     bool
	link     string
	dir      bool
}

func makeTree(t *testing.T, entries []entry) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(e.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case e.dir:
			err = os.MkdirAll(p, 0o755)
		case e.link != "":
			err = os.Symlink(e.link, p)
		default:
			mode := os.FileMode(0o644)
			if e.exec {
				mode = 0o755
			}
			err = os.WriteFile(p, []byte(e.contents), mode)
			if err == nil {
				err = os.Chmod(p, mode) // WriteFile's mode passes through the umask.
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// narCases' want values were printed by `nix --extra-experimental-features nix-command hash
// path` (Nix 2.8.0) for the same trees; TestHashPathAgreesWithNix re-checks them when Nix is
// installed.
var narCases = []struct {
	desc    string
	entries []entry
	want    string
}{
	{
		desc:    "regular file",
		entries: []entry{{path: "", contents: "hello\n"}},
		want:    "sha256-HDfQGvQL4ugGkd48w99EN3ppmvuxfGjwgJZLL9Bx/BM=",
	},
	{
		desc:    "empty file",
		entries: []entry{{path: ""}},
		want:    "sha256-d6xi4mKdjkX2JFicDIv5niSzpyI0m/Hnm8GGAIU04kY=",
	},
	{
		desc:    "executable file",
		entries: []entry{{path: "", contents: "#!/bin/sh\nexit 0\n", exec: true}},
		want:    "sha256-nsnRGb2bICOzWX9bA5qzHoQxeOnjFhrs3HPY8PM61ww=",
	},
	{
		desc:    "symlink",
		entries: []entry{{path: "", link: "target/elsewhere"}},
		want:    "sha256-aeXVGeVZjY7nIzhJgk1k9qCkGdHpSEKPQhwp3C+UPio=",
	},
	{
		desc:    "empty directory",
		entries: []entry{{path: "", dir: true}},
		want:    "sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo=",
	},
	{
		desc: "directory in byte order, padding, nesting",
		entries: []entry{
			{path: "b", contents: "lower b"},
			{path: "B", contents: "upper B sorts first"},
			{path: "a/x", contents: "run me", exec: true},
			{path: "a/y.txt", contents: "12345678"}, // exactly 8 bytes: no padding
			{path: "12345678", contents: "123456789"},
			{path: "empty", dir: true},
			{path: "link", link: "a/x"},
			{path: "a/@v/v1.0.0.lock"},
		},
		want: "sha256-YzU5bStsM1t537lkrG7sDCW5Xe9Wjrn7ySQL3PtR8Tc=",
	},
}

func TestHashPath(t *testing.T) {
	for _, tc := range narCases {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := HashPath(makeTree(t, tc.entries))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("HashPath = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestHashPathAgreesWithNix compares with Nix itself where it is installed (apt-get install
// nix-bin); CI does not install it, so there the goldens above stand in for it.
func TestHashPathAgreesWithNix(t *testing.T) {
	nix, err := exec.LookPath("nix")
	if err != nil {
		t.Skip("nix is not installed; the golden hashes in TestHashPath came from it")
	}
	for _, tc := range narCases {
		t.Run(tc.desc, func(t *testing.T) {
			root := makeTree(t, tc.entries)
			out, err := exec.Command(nix, "--extra-experimental-features", "nix-command", "hash", "path", root).Output()
			if err != nil {
				t.Fatalf("nix hash path: %v", err)
			}
			got, err := HashPath(root)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSpace(string(out)); got != want {
				t.Errorf("HashPath = %s, but nix hash path says %s", got, want)
			}
		})
	}
}

func TestHashPathRejectsSpecialFiles(t *testing.T) {
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Skip("no /dev/null here")
	}
	_, err := HashPath("/dev/null")
	if err == nil || !strings.Contains(err.Error(), "only files, directories and symlinks") {
		t.Errorf("HashPath(/dev/null) error = %v, want one naming what Nix archives can hold", err)
	}
}
