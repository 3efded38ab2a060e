package sse

import "io"

// A measuringReader serves r and records how much was read and the largest buffer it was
// asked to fill.
type measuringReader struct {
	r         io.Reader
	read      int64
	largestP  int
	readCalls int
}

func (m *measuringReader) Read(p []byte) (int, error) {
	m.largestP = max(m.largestP, len(p))
	m.readCalls++
	n, err := m.r.Read(p)
	m.read += int64(n)
	return n, err
}

// endless is an infinite body of 'x'.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}
