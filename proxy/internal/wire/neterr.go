package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
)

// NetErrorKind names a kind of network failure.
type NetErrorKind string

// The kinds of [NetError].
const (
	// DNS: the host name did not resolve.
	DNS NetErrorKind = "dns"
	// TLS: the TLS handshake failed (certificate, or not a TLS server).
	TLS NetErrorKind = "tls"
	// Refused: nothing listens on the port.
	Refused NetErrorKind = "connection refused"
	// Timeout: no answer in time.
	Timeout NetErrorKind = "timeout"
	// Connection: any other failure to connect or exchange.
	Connection NetErrorKind = "connection"
)

// A NetError is a request that got no HTTP answer.
type NetError struct {
	Kind NetErrorKind
	Host string
	Err  error
}

// Error implements error; it names the kind first.
func (e *NetError) Error() string {
	switch e.Kind {
	case DNS:
		return fmt.Sprintf("DNS: cannot resolve %s: %v", e.Host, e.Err)
	case TLS:
		return fmt.Sprintf("TLS: handshake with %s failed: %v", e.Host, e.Err)
	case Refused:
		return fmt.Sprintf("connection refused: nothing listens at %s", e.Host)
	case Timeout:
		return fmt.Sprintf("timeout: %s did not answer in time: %v", e.Host, e.Err)
	}
	return fmt.Sprintf("connection to %s failed: %v", e.Host, e.Err)
}

// Unwrap returns the underlying error.
func (e *NetError) Unwrap() error { return e.Err }

// Classify names the kind of a transport error. It drops the *url.Error wrapper, whose text
// repeats the method and URL.
func Classify(err error, host string) *NetError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var (
		dnsErr     *net.DNSError
		verifyErr  *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		netErr     net.Error
	)
	kind := Connection
	switch {
	case errors.As(err, &dnsErr):
		kind = DNS
	case errors.As(err, &verifyErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalidErr), errors.As(err, &recordErr), errors.As(err, &alertErr):
		kind = TLS
	case errors.Is(err, syscall.ECONNREFUSED):
		kind = Refused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		kind = Timeout
	}
	return &NetError{Kind: kind, Host: host, Err: err}
}
