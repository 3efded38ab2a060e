//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/tidwall/gjson"
)

// floorRelay is the least a stdio-to-HTTP relay can do per message, the floor the proxy is
// measured against: one thread, blocking system calls the Go runtime is not told about (so it
// never hands the thread's work elsewhere), one kept-alive HTTP/1.1 connection written and
// parsed by hand, no retries, no token refresh, no second stream, no checks. It serves the
// measured paths of the bench only: a response it cannot parse ends it.
func floorRelay(rawURL, token string) error {
	runtime.GOMAXPROCS(1)
	u, err := neturl.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("floor relay: want an http:// URL, got %q", rawURL)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return fmt.Errorf("floor relay: %w", err)
	}
	f, err := c.(*net.TCPConn).File()
	if err != nil {
		return fmt.Errorf("floor relay: %w", err)
	}
	c.Close()
	defer f.Close()
	sock := rawFD(f.Fd()) // Fd leaves the descriptor in blocking mode
	if err := syscall.SetNonblock(0, false); err != nil {
		return fmt.Errorf("floor relay: stdin: %w", err)
	}
	x := &floorExchange{
		head:  fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n", u.RequestURI(), u.Host, token),
		sock:  sock,
		resp:  bufio.NewReaderSize(sock, 64<<10),
		stdin: bufio.NewReaderSize(rawFD(0), 64<<10),
	}
	for {
		line, err := x.stdin.ReadSlice('\n')
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("floor relay: stdin: %w", err)
		}
		if err := x.relay(bytes.TrimSpace(line)); err != nil {
			return fmt.Errorf("floor relay: %w", err)
		}
	}
}

// floorExchange is the floor relay's connection and what the server told it to send back.
type floorExchange struct {
	head         []byte // request line, fixed headers and the token
	sock         rawFD
	resp, stdin  *bufio.Reader
	session, ver string
	req, out     []byte
}

// relay POSTs one message and writes the JSON-RPC messages of the answer to stdout.
func (x *floorExchange) relay(msg []byte) error {
	x.req = append(x.req[:0], x.head...)
	if x.session != "" {
		x.req = append(append(append(x.req, "Mcp-Session-Id: "...), x.session...), "\r\nMcp-Protocol-Version: "...)
		x.req = append(append(x.req, x.ver...), "\r\n"...)
	}
	x.req = strconv.AppendInt(append(x.req, "Content-Length: "...), int64(len(msg)), 10)
	x.req = append(append(x.req, "\r\n\r\n"...), msg...)
	if _, err := x.sock.Write(x.req); err != nil {
		return err
	}
	body, err := x.readResponse()
	if err != nil {
		return err
	}
	x.out = x.out[:0]
	for l := range bytes.Lines(body) {
		l = bytes.TrimSpace(l)
		if d, ok := bytes.CutPrefix(l, []byte("data:")); ok {
			l = bytes.TrimSpace(d)
		}
		if len(l) > 0 && l[0] == '{' {
			if v := gjson.GetBytes(l, "result.protocolVersion"); v.Exists() {
				x.ver = v.String()
			}
			x.out = append(append(x.out, l...), '\n')
		}
	}
	if len(x.out) == 0 {
		return nil
	}
	_, err = rawFD(1).Write(x.out)
	return err
}

// readResponse reads one HTTP/1.1 response and returns its body, keeping the session id.
func (x *floorExchange) readResponse() ([]byte, error) {
	status, err := x.resp.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(status) < 12 || (status[9] != '2') {
		return nil, fmt.Errorf("server answered %q", bytes.TrimSpace(status))
	}
	length, chunked := 0, false
	for {
		h, err := x.resp.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		k, v, _ := bytes.Cut(bytes.TrimSpace(h), []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case len(k) == 0:
			if chunked {
				return x.readChunked()
			}
			body := make([]byte, length)
			_, err := io.ReadFull(x.resp, body)
			return body, err
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(v))
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Mcp-Session-Id")):
			x.session = string(v)
		}
	}
}

func (x *floorExchange) readChunked() ([]byte, error) {
	var body []byte
	for {
		line, err := x.resp.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("chunk size %q: %w", line, err)
		}
		chunk := make([]byte, size+2) // and its CRLF
		if _, err := io.ReadFull(x.resp, chunk); err != nil {
			return nil, err
		}
		if size == 0 {
			return body, nil
		}
		body = append(body, chunk[:size]...)
	}
}

// rawFD reads and writes a blocking descriptor with raw system calls.
type rawFD uintptr

func (fd rawFD) Read(b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	switch {
	case e != 0:
		return 0, e
	case n == 0:
		return 0, io.EOF
	}
	return int(n), nil
}

func (fd rawFD) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[done])), uintptr(len(b)-done))
		if e != 0 {
			return done, e
		}
		done += int(n)
	}
	return done, nil
}
