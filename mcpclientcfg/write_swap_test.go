//go:build linux || darwin

package mcpclientcfg

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// A client rewriting its config file in a loop (read, change, write a temporary file,
// rename it over) while install-config runs 200 times: every change of the client's must
// survive, or install-config must have said it wrote nothing.
func TestApplyNeverLosesAConcurrentWritersChange(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	loc := testLocation(t, Cursor, ScopeUser).WithPath(filepath.Join(dir, "mcp.json"))
	writeFile(t, loc.Path, `{"mcpServers": {}}`+"\n", 0o600)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written []string // keys the client wrote
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var doc map[string]any
			b, err := os.ReadFile(loc.Path)
			if err != nil || json.Unmarshal(b, &doc) != nil {
				t.Errorf("client read: %v %s", err, b)
				return
			}
			key := fmt.Sprintf("client%d", i)
			doc[key] = true
			out, _ := json.Marshal(doc)
			tmp := loc.Path + ".client-tmp"
			if err := os.WriteFile(tmp, out, 0o600); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, loc.Path); err != nil {
				t.Error(err)
				return
			}
			written = append(written, key)
		}
	}()
	refused, undone, saved := 0, 0, ""
	for i := range 200 {
		e := testEntry
		e.Args = append(slices.Clone(e.Args), fmt.Sprint(i))
		c, err := PlanInstall(loc, e, testOwn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (Writer{StateDir: state}).Apply(c); err != nil {
			if !strings.Contains(err.Error(), "nothing was written") {
				t.Fatal(err)
			}
			refused++
			if strings.Contains(err.Error(), "may be missing") {
				undone++
			}
			if _, name, ok := strings.Cut(err.Error(), "saved in "); ok {
				saved += readFile(t, name)
			}
		}
	}
	close(stop)
	wg.Wait()
	var doc map[string]any
	if err := json.Unmarshal([]byte(readFile(t, loc.Path)), &doc); err != nil {
		t.Fatal(err)
	}
	var lost []string
	for _, k := range written {
		if doc[k] != true && !strings.Contains(saved, `"`+k+`"`) {
			lost = append(lost, k)
		}
	}
	t.Logf("client wrote %d times; install-config refused %d of 200 runs (%d undone after the exchange); lost: %v", len(written), refused, undone, lost)
	if len(lost) > 0 && undone == 0 {
		t.Errorf("the client's changes %v were lost, and no error said a change may be missing", lost)
	}
}
