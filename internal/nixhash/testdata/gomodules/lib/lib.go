// Package lib is a fixture: a sibling module with one third-party dependency.
package lib

import "github.com/tidwall/match"

// Match reports whether str matches pattern.
func Match(str, pattern string) bool { return match.Match(str, pattern) }
