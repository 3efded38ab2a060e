package proxy

import (
	"bytes"
	"errors"
	"github.com/mcp-cloudrun-proxy/mcp-cloudrun-proxy/proxy/internal/readtest"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadBodyLimit(t *testing.T) {
	const limit = 3 << 20
	body := strings.Repeat("y", 2<<20+7)
	tests := []struct {
		desc          string
		r             io.Reader
		contentLength int64
		wantLen       int
		wantErr       error
		maxRead       int64 // most bytes the reader may have served
		maxP          int   // largest buffer offered to the reader
	}{
		{desc: "length known", r: strings.NewReader(body), contentLength: int64(len(body)), wantLen: len(body), maxRead: int64(len(body)), maxP: len(body) + 1},
		{desc: "length unknown", r: strings.NewReader(body), contentLength: -1, wantLen: len(body), maxRead: int64(len(body)), maxP: limit + 1},
		{desc: "small body in small reads", r: iotest.HalfReader(strings.NewReader(`{"id":1}`)), contentLength: 8, wantLen: 8, maxRead: 8, maxP: 9},
		{desc: "empty", r: strings.NewReader(""), contentLength: 0, wantLen: 0, maxP: 512},
		{desc: "exactly the limit", r: strings.NewReader(strings.Repeat("z", limit)), contentLength: -1, wantLen: limit, maxRead: limit, maxP: limit + 1},
		{desc: "claims 2 GiB, sends 10 bytes", r: strings.NewReader("0123456789"), contentLength: 2<<30 - 1, wantErr: errBodyTooLarge, maxRead: 0},
		{desc: "claims the limit, sends 10 bytes", r: strings.NewReader("0123456789"), contentLength: limit, wantLen: 10, wantErr: io.ErrUnexpectedEOF, maxRead: 10, maxP: bodyPrealloc},
		{desc: "endless body, length unknown", r: readtest.Endless{}, contentLength: -1, wantErr: errBodyTooLarge, maxRead: limit + 1, maxP: limit + 1},
		{desc: "endless body, length claimed small", r: readtest.Endless{}, contentLength: 100, wantErr: errBodyTooLarge, maxRead: limit + 1, maxP: limit + 1},
		{desc: "read error", r: io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(io.ErrClosedPipe)), contentLength: -1, wantLen: 3, wantErr: io.ErrClosedPipe, maxRead: 3, maxP: 512},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			m := &readtest.Measuring{R: tc.r}
			got, err := readBodyLimit(m, tc.contentLength, limit)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(got) != tc.wantLen {
				t.Errorf("read %d bytes, want %d", len(got), tc.wantLen)
			}
			if tc.wantErr == nil && !bytes.Equal(got, []byte(body)) && tc.wantLen == len(body) {
				t.Errorf("body differs from what was sent")
			}
			if m.N > tc.maxRead {
				t.Errorf("reader served %d bytes, want at most %d", m.N, tc.maxRead)
			}
			if m.LargestP > tc.maxP {
				t.Errorf("largest read buffer %d bytes, want at most %d", m.LargestP, tc.maxP)
			}
		})
	}
}

func TestReadBodyLimitDefault(t *testing.T) {
	_, err := readBodyLimit(readtest.Endless{}, -1, 0)
	if !errors.Is(err, errBodyTooLarge) {
		t.Fatalf("err = %v, want errBodyTooLarge", err)
	}
	if want := "response body too large: more than the limit of 67108864 bytes"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func BenchmarkReadBodyLimit8MiB(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 8<<20)
	for _, cl := range []int64{int64(len(body)), -1} {
		name := "length-known"
		if cl < 0 {
			name = "length-unknown"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := readBodyLimit(bytes.NewReader(body), cl, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
