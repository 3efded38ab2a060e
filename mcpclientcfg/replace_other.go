//go:build !linux && !darwin

package mcpclientcfg

// replace checks that the file still holds what c was planned on, then renames tmp over
// it: nothing slow happens between the two.
func replace(c *Change, tmp string, _ func([]byte) (string, error)) error {
	return replacePortable(c, tmp)
}
