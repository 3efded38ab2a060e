package sse

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestData(t *testing.T) {
	stream := ": keep-alive\n\nid: 1\n\nevent: message\ndata: {\"a\":1}\n\ndata: line1\ndata: line2\n\ndata: last"
	var got []string
	if err := Data(strings.NewReader(stream), func(d []byte) bool { got = append(got, string(d)); return true }); err != nil {
		t.Fatal(err)
	}
	// "last" is never terminated by a blank line: an incomplete event, dropped.
	if diff := cmp.Diff([]string{`{"a":1}`, "line1\nline2"}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	got = nil
	_ = Data(strings.NewReader(stream), func(d []byte) bool { got = append(got, string(d)); return false })
	if len(got) != 1 {
		t.Errorf("fn returning false should stop after one event, got %d", len(got))
	}
}
