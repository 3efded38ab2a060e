package mcpclientcfg

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Small edits whose result is easiest to read inline.
func TestJSONEdits(t *testing.T) {
	entry := ServerEntry{Name: "s", Command: "/bin/p", Args: []string{"run"}}
	for _, tc := range []struct {
		desc   string
		client Client
		in     string
		remove bool
		want   string
	}{
		{
			desc: "null servers object is replaced",
			in:   "{\n  \"mcpServers\": null\n}\n",
			want: "{\n  \"mcpServers\": {\n    \"s\": {\n      \"command\": \"/bin/p\",\n      \"args\": [\n        \"run\"\n      ]\n    }\n  }\n}\n",
		},
		{
			desc: "an entry that is not an object is replaced whole",
			in:   "{\"mcpServers\": {\"s\": \"bogus\"}}",
			want: "{\"mcpServers\": {\"s\": {\"command\":\"/bin/p\",\"args\":[\"run\"]}}}",
		},
		{
			desc: "unknown keys of our entry are kept, env removed",
			in:   "{\n  \"mcpServers\": {\n    \"s\": {\n      \"timeout\": 5,\n      \"command\": \"/old\",\n      \"env\": {\"A\": \"1\"}\n    }\n  }\n}\n",
			want: "{\n  \"mcpServers\": {\n    \"s\": {\n      \"timeout\": 5,\n      \"command\": \"/bin/p\",\n      \"args\": [\n        \"run\"\n      ]\n    }\n  }\n}\n",
		},
		{
			desc:   "block comment spanning lines after the removed member survives",
			client: VSCode,
			in:     "{\n  \"servers\": {\n    \"a\": {},\n    \"s\": {}, /* about\n    b */ \"b\": {}\n  }\n}\n",
			remove: true,
			want:   "{\n  \"servers\": {\n    \"a\": {}, /* about\n    b */ \"b\": {}\n  }\n}\n",
		},
		{
			desc:   "a member on the removed member's line takes its place",
			client: Cursor,
			in:     "{\n  \"mcpServers\": {\n    \"a\": {},\n    \"s\": {}, \"b\": {}\n  }\n}\n",
			remove: true,
			want:   "{\n  \"mcpServers\": {\n    \"a\": {},\n    \"b\": {}\n  }\n}\n",
		},
		{
			desc:   "removing the only server leaves an empty object",
			in:     "{\n  \"mcpServers\": {\n    \"s\": {\"command\": \"x\"}\n  },\n  \"k\": 1\n}\n",
			remove: true,
			want:   "{\n  \"mcpServers\": {},\n  \"k\": 1\n}\n",
		},
		{
			desc: "tabs and a BOM are kept",
			in:   "\ufeff{\n\t\"x\": 1\n}",
			want: "\ufeff{\n\t\"x\": 1,\n\t\"mcpServers\": {\n\t\t\"s\": {\n\t\t\t\"command\": \"/bin/p\",\n\t\t\t\"args\": [\n\t\t\t\t\"run\"\n\t\t\t]\n\t\t}\n\t}\n}",
		},
		{
			desc: "characters HTML escaping would change are written as is",
			in:   "{}",
			want: "{\n  \"mcpServers\": {\n    \"s\": {\n      \"command\": \"/bin/p\",\n      \"args\": [\n        \"run\"\n      ]\n    }\n  }\n}",
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			client := tc.client
			if client == "" {
				client = ClaudeDesktop
			}
			loc := testLocation(t, client, ScopeUser)
			var got []byte
			var err error
			if tc.remove {
				var found bool
				got, found, err = removeBytes(loc, []byte(tc.in), "s")
				if !found && err == nil {
					t.Fatal("not found")
				}
			} else {
				got, err = installBytes(loc, []byte(tc.in), entry)
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

func TestURLWithAmpersandIsNotEscaped(t *testing.T) {
	e := ServerEntry{Name: "s", Command: "/p", Args: []string{"--url", "https://h/mcp?a=1&b=<2>"}}
	got, err := installBytes(testLocation(t, ClaudeDesktop, ScopeUser), nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"https://h/mcp?a=1&b=<2>"`) {
		t.Errorf("URL escaped:\n%s", got)
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	b := "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n"
	want := `--- a
+++ b
@@ -1,6 +1,6 @@
 1
 2
-3
+three
 4
 5
 6
@@ -10,3 +10,4 @@
 10
 11
 12
+13
`
	if diff := cmp.Diff(want, unifiedDiff("a", "b", []byte(a), []byte(b))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := unifiedDiff("a", "b", []byte("x"), []byte("y")); got != "--- a\n+++ b\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n" {
		t.Errorf("no trailing newline:\n%s", got)
	}
	if got := unifiedDiff("a", "b", []byte("same"), []byte("same")); got != "" {
		t.Errorf("equal inputs: %q", got)
	}
}
