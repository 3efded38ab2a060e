// Package readtest holds io.Readers for tests that check how much a reader of untrusted input
// holds: one that records the buffers it was asked to fill, and one that never ends.
package readtest

import "io"

// A Measuring reader serves R and records how much was read and the largest buffer it was
// asked to fill, which is how much memory the caller had reserved for the rest.
type Measuring struct {
	R        io.Reader
	N        int64 // bytes read
	LargestP int   // the largest buffer Read was given
	Calls    int
}

// Read implements io.Reader.
func (m *Measuring) Read(p []byte) (int, error) {
	m.LargestP = max(m.LargestP, len(p))
	m.Calls++
	n, err := m.R.Read(p)
	m.N += int64(n)
	return n, err
}

// Endless is an infinite input of 'x'.
type Endless struct{}

// Read implements io.Reader.
func (Endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}
