package mcpclientcfg

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTOMLEdits(t *testing.T) {
	entry := ServerEntry{Name: "s", Command: `C:\Program Files\p.exe`, Args: []string{"run", `a"b`}}
	for _, tc := range []struct {
		desc    string
		in      string
		remove  bool
		want    string
		wantErr string
	}{
		{
			desc: "Windows path and quotes are escaped",
			in:   "",
			want: "[mcp_servers.s]\ncommand = \"C:\\\\Program Files\\\\p.exe\"\nargs = [\"run\", \"a\\\"b\"]\n",
		},
		{
			desc: "CRLF file without a final newline",
			in:   "model = \"x\"\r\n[tui]\r\nnotifications = true",
			want: "model = \"x\"\r\n[tui]\r\nnotifications = true\r\n\r\n[mcp_servers.s]\r\ncommand = \"C:\\\\Program Files\\\\p.exe\"\r\nargs = [\"run\", \"a\\\"b\"]\r\n",
		},
		{
			desc: "empty [mcp_servers] table is kept",
			in:   "[mcp_servers]\n",
			want: "[mcp_servers]\n\n[mcp_servers.s]\ncommand = \"C:\\\\Program Files\\\\p.exe\"\nargs = [\"run\", \"a\\\"b\"]\n",
		},
		{
			desc:    "inline servers table",
			in:      "mcp_servers = { other = { command = \"o\" } }\n",
			wantErr: "mcp_servers is written as an inline table",
		},
		{
			desc:    "our entry as an inline table",
			in:      "[mcp_servers]\ns = { command = \"old\" }\n",
			wantErr: "mcp_servers.s is not written as a [mcp_servers.s] table",
		},
		{
			desc:   "remove the last table and its blank line",
			in:     "a = 1\n\n[mcp_servers.s]\ncommand = \"x\"\n",
			remove: true,
			want:   "a = 1\n",
		},
		{
			desc:   "remove keeps comments after the entry that lead the next table",
			in:     "[mcp_servers.s]\ncommand = \"x\"\n# about t\n[t]\nk = 1\n",
			remove: true,
			want:   "# about t\n[t]\nk = 1\n",
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			loc := testLocation(t, Codex, ScopeUser)
			var got []byte
			var err error
			if tc.remove {
				got, _, err = removeBytes(loc, []byte(tc.in), "s")
			} else {
				got, err = installBytes(loc, []byte(tc.in), entry)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
