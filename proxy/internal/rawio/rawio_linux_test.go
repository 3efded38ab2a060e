package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pipe is a blocking pipe, as an MCP client hands its server on stdin and stdout.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r, w = os.NewFile(uintptr(p[0]), "r"), os.NewFile(uintptr(p[1]), "w")
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func isNonblocking(t *testing.T, f *os.File) bool {
	t.Helper()
	fd, ok := descriptor(f)
	if !ok {
		t.Fatal("no descriptor")
	}
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	return flags&syscall.O_NONBLOCK != 0
}

func TestFileRelaysAPipeWholeBothWays(t *testing.T) {
	r, w := pipe(t)
	in, restoreIn := File(r)
	out, restoreOut := File(w)
	if _, ok := in.(*os.File); ok {
		t.Fatal("a pipe's read end was returned as is")
	}
	// 4 MiB is many times a pipe's buffer: writes are partial and wait for the reader.
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<18)
	done := make(chan error, 1)
	go func() {
		_, err := out.Write(want)
		restoreOut()
		w.Close()
		done <- err
	}()
	got, err := io.ReadAll(in)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want the %d written", len(got), len(want))
	}
	if !isNonblocking(t, r) {
		t.Fatal("the read end is blocking while in use")
	}
	restoreIn()
	if isNonblocking(t, r) {
		t.Fatal("restore left the read end nonblocking")
	}
	if _, err := in.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after restore succeeded; want the error of a closed file (a raw read on the blocking file would block the thread)")
	}
	// r itself is still open: restore closed only the duplicate descriptor.
	if _, err := r.Stat(); err != nil {
		t.Fatalf("the original file after restore: %v", err)
	}
}

func TestFileUsesAFileAlreadyPolled(t *testing.T) {
	r, w, err := os.Pipe() // nonblocking and in the poller already
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	in, restore := File(r)
	if _, ok := in.(*os.File); ok {
		t.Fatal("a polled pipe was returned as is")
	}
	go func() { _, _ = w.Write([]byte("x")); w.Close() }()
	got, err := io.ReadAll(in)
	if err != nil || string(got) != "x" {
		t.Fatalf("read %q, %v", got, err)
	}
	restore()
	if !isNonblocking(t, r) {
		t.Fatal("restore changed the mode of a file that was nonblocking before")
	}
}

func TestFileLeavesOtherFilesAlone(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "regular")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rw, restore := File(f)
	defer restore()
	if rw != io.ReadWriter(f) {
		t.Fatal("a regular file was wrapped")
	}
	if isNonblocking(t, f) {
		t.Fatal("a regular file was made nonblocking")
	}
}

func TestFileReadWaitsForData(t *testing.T) {
	r, w := pipe(t)
	in, restore := File(r)
	defer restore()
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 16)
		n, err := in.Read(b)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(b[:n])
	}()
	select {
	case s := <-got:
		t.Fatalf("read returned %q before anything was written", s)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := w.Write([]byte("line\n")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "line\n" {
		t.Fatalf("read %q, want the line", s)
	}
}

func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return Conn(c), s
}

func TestConnRelaysAndKeepsNetSemantics(t *testing.T) {
	c, s := tcpPair(t)
	if _, ok := c.(*netConn); !ok {
		t.Fatalf("a TCP connection was not wrapped: %T", c)
	}
	want := bytes.Repeat([]byte("x"), 8<<20)
	go func() {
		if _, err := c.Write(want); err != nil {
			t.Errorf("write: %v", err)
		}
		c.(*netConn).Conn.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("server read %d bytes (%v), want %d", len(got), err, len(want))
	}

	// A read deadline is the poller's, as for any net.Conn.
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	_ = c.SetReadDeadline(time.Time{})

	// The peer's reset is an errno inside a *net.OpError, as net.Conn reports it.
	s.(*net.TCPConn).SetLinger(0)
	s.Close()
	for {
		_, err = c.Read(make([]byte, 1))
		if err != nil {
			break
		}
	}
	var op *net.OpError
	if !errors.As(err, &op) || !errors.Is(err, syscall.ECONNRESET) || op.Op != "read" {
		t.Fatalf("read after the peer's reset: %#v, want a *net.OpError wrapping ECONNRESET", err)
	}
}

func TestConnCloseEndsAPendingRead(t *testing.T) {
	c, _ := tcpPair(t)
	errs := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errs <- err
	}()
	select {
	case err := <-errs:
		t.Fatalf("read returned %v with nothing sent", err)
	case <-time.After(30 * time.Millisecond):
	}
	c.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the pending read")
	}
}
