//go:build !linux

package main

import "errors"

// floorRelay needs Linux's raw system calls on blocking descriptors.
func floorRelay(rawURL, token string) error {
	return errors.New("floor relay: Linux only")
}
