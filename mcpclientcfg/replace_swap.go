//go:build linux || darwin

package mcpclientcfg

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// replace moves tmp over c.target if the file still holds what c was planned on, with no
// window in which a client's rewrite can be lost: the two names are exchanged atomically
// (Linux renameat2 RENAME_EXCHANGE, macOS renamex_np RENAME_SWAP), and the content that was
// displaced is compared with c.Old; if a client wrote in between, the exchange is undone and
// nothing is changed. A new file is created with RENAME_NOREPLACE (RENAME_EXCL), which fails
// if a client created it meanwhile. File systems without these get the portable
// check-then-rename.
// If a client also wrote the file in the instant between the exchange and its undo (on top
// of our version), that version is saved with save and named in the error.
func replace(c *Change, tmp string, save func([]byte) (string, error)) error {
	if !c.Existed {
		err := renameNoReplace(tmp, c.target)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s was created since it was read (is the client writing it?); nothing was written, run again", c.Location.Path)
		}
		if !unsupported(err) {
			return err
		}
		return replacePortable(c, tmp)
	}
	// The cheap check first, so that the exchange below almost never has to be undone.
	if err := c.unchanged(); err != nil {
		return err
	}
	err := exchange(tmp, c.target)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s was removed since it was read; nothing was written, run again", c.Location.Path)
	}
	if unsupported(err) {
		return replacePortable(c, tmp)
	}
	if err != nil {
		return err
	}
	displaced, err := os.ReadFile(tmp)
	if err == nil && bytes.Equal(displaced, c.Old) {
		return os.Remove(tmp)
	}
	// A client wrote the file between our read and the exchange: put its content back.
	if uerr := exchange(tmp, c.target); uerr != nil {
		return fmt.Errorf("%s changed while it was written, and restoring the other program's version failed (%v); it is in %s", c.Location.Path, uerr, tmp)
	}
	// A client that read the file in that instant saw our version, and may write on top of
	// it: say so.
	msg := fmt.Sprintf("%s changed while it was being replaced (is the client rewriting it?): its version was put back and nothing was written, but check the file: a change the client made in that instant may be missing; run again", c.Location.Path)
	if late, err := os.ReadFile(tmp); err == nil && !bytes.Equal(late, c.New) {
		// That version was built on ours, so it cannot stay; keep it for the user.
		name, serr := save(late)
		if serr != nil {
			return fmt.Errorf("%s; another version written meanwhile is in %s", msg, tmp)
		}
		msg += "; another version the client wrote meanwhile is saved in " + name
	}
	_ = os.Remove(tmp)
	return errors.New(msg)
}

func unsupported(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP)
}
