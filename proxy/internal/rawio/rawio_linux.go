// Package rawio reads and writes pipes and sockets through Go's network poller with plain
// nonblocking system calls that the runtime is not told about.
//
// Why: every system call Go makes the usual way (syscall.Read, net.Conn.Write) first tells the
// scheduler it may block, and when the runtime's monitor thread sleeps soundly, as it does
// whenever the process waited for I/O, that call wakes it. A relay waits for I/O twice per
// message, so the monitor thread woke and slept several times per message: on a virtual
// machine where a thread switch costs tens of microseconds, more CPU time than the relay's
// own work. A nonblocking read or write never blocks, so nothing needs telling; the poller
// still does the waiting, with deadlines and Close as usual.
package rawio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// A conn reads and writes through rc with raw nonblocking system calls.
type conn struct {
	rc     syscall.RawConn
	rd, wr *op
}

func newConn(rc syscall.RawConn) conn {
	return conn{rc: rc, rd: newOp(syscall.SYS_READ), wr: newOp(syscall.SYS_WRITE)}
}

// An op is one direction's system call, with its arguments and results in fields and its
// callback bound once: a closure per call would be a heap allocation per read and write.
type op struct {
	mu    sync.Mutex
	trap  uintptr
	p     []byte
	n     int
	errno syscall.Errno
	call  func(fd uintptr) bool
}

func newOp(trap uintptr) *op {
	o := &op{trap: trap}
	o.call = func(fd uintptr) bool {
		o.n, o.errno = rawCall(o.trap, fd, o.p)
		return o.errno != syscall.EAGAIN
	}
	return o
}

// do makes the call on p through wait (the RawConn's Read or Write), which waits in the
// poller for as long as the call would block.
func (o *op) do(wait func(func(uintptr) bool) error, p []byte) (int, syscall.Errno, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.p = p
	err := wait(o.call)
	o.p = nil
	return o.n, o.errno, err
}

func (c conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, errno, err := c.rd.do(c.rc.Read, p)
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c conn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, errno, err := c.wr.do(c.rc.Write, p[written:])
		if err != nil {
			return written, err
		}
		if errno != 0 {
			return written, errno
		}
		written += n
	}
	return written, nil
}

// rawCall makes a read or write system call on p, again when a signal interrupted it.
func rawCall(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		r, _, errno := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno != syscall.EINTR {
			return int(r), errno
		}
	}
}

// File returns f read and written with raw nonblocking calls through the poller when f is a
// pipe or a socket, and f itself otherwise (a terminal, a regular file). restore ends that
// and puts the blocking mode back, for whoever shares the open file after the process; f
// itself stays open.
func File(f *os.File) (rw io.ReadWriter, restore func()) {
	fd, ok := descriptor(f)
	if !ok || !pipeOrSocket(fd) {
		return f, func() {}
	}
	if f.SetDeadline(time.Time{}) == nil {
		// Already in the poller (nonblocking when it was opened): its descriptor cannot be
		// added a second time.
		if rc, err := f.SyscallConn(); err == nil {
			return newConn(rc), func() {}
		}
		return f, func() {}
	}
	// A duplicate descriptor of our own goes into the poller: the *os.File made for it closes
	// it, never f's. The blocking mode belongs to the open file, which both share.
	dup, err := syscall.Dup(fd)
	if err != nil {
		return f, func() {}
	}
	syscall.CloseOnExec(dup)
	if err := syscall.SetNonblock(dup, true); err != nil {
		syscall.Close(dup)
		return f, func() {}
	}
	polled := os.NewFile(uintptr(dup), f.Name())
	restore = func() {
		polled.Close() // ends a pending read or write
		_ = syscall.SetNonblock(fd, false)
	}
	rc, err := polled.SyscallConn()
	if err != nil || polled.SetDeadline(time.Time{}) != nil {
		restore()
		return f, func() {}
	}
	return newConn(rc), restore
}

func pipeOrSocket(fd int) bool {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return false
	}
	kind := st.Mode & syscall.S_IFMT
	return kind == syscall.S_IFIFO || kind == syscall.S_IFSOCK
}

// descriptor is f's file descriptor. (f.Fd would make a polled file blocking.)
func descriptor(f *os.File) (int, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return 0, false
	}
	return fd, fd >= 0
}

// Conn returns c with its reads and writes made as raw nonblocking calls, when c is a TCP
// or Unix connection; deadlines, Close and the addresses are c's own.
func Conn(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &netConn{Conn: c, raw: newConn(rc)}
}

type netConn struct {
	net.Conn
	raw conn
}

func (c *netConn) Read(p []byte) (int, error) {
	n, err := c.raw.Read(p)
	return n, c.opError("read", err)
}

func (c *netConn) Write(p []byte) (int, error) {
	n, err := c.raw.Write(p)
	return n, c.opError("write", err)
}

// opError gives an errno the shape net.Conn's own errors have ("read tcp A->B: connection
// reset by peer"), which is what error messages and errors.Is/As see.
func (c *netConn) opError(op string, err error) error {
	errno, ok := err.(syscall.Errno)
	if !ok {
		return err
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}
