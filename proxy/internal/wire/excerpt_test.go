package wire

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExcerpt(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		body    string
		secrets []string
		want    string
	}{
		{desc: "html", body: "<html><body><h1>Error: Forbidden</h1>\n<p>Your client does not have permission</p></body></html>", want: "Error: Forbidden Your client does not have permission"},
		{desc: "secret", body: "token=s3cr3t-value here", secrets: []string{"s3cr3t-value"}, want: "token=[redacted] here"},
		{desc: "jwt-shaped", body: "got eyJhbGciOi.eyJzdWIiOiIx.c2ln ok", want: "got [redacted] ok"},
		{desc: "long", body: strings.Repeat("a", 300), want: strings.Repeat("a", 200) + "…"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Excerpt([]byte(tc.body), tc.secrets...)); diff != "" {
				t.Errorf("Excerpt (-want +got):\n%s", diff)
			}
		})
	}
}
