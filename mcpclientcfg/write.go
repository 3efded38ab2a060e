package mcpclientcfg

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// A Writer writes [Change]s. Its zero value is ready to use.
type Writer struct {
	// Rename moves the finished temporary file over the config file; nil means os.Rename.
	// Tests make it fail to show that a crash before the rename leaves the file intact.
	Rename func(oldpath, newpath string) error
	// BackupSuffix starts the name of the backup of the previous content,
	// FILE+BackupSuffix+".YYYYMMDDTHHMMSSZ" (UTC); "" means ".bak". Backups are never
	// overwritten or deleted, so the user's original survives any number of changes.
	BackupSuffix string
	// Now is the time in the backup's name; nil means time.Now.
	Now func() time.Time
}

// A Result says what [Writer.Apply] wrote.
type Result struct {
	// Path is the file written (symlinks resolved).
	Path string
	// Backup is the copy of the previous content; "" when the file was created.
	Backup string
	// Created says the file did not exist.
	Created bool
}

// Apply writes c.New: to a temporary file in the same directory, synced, then renamed over
// the config file, so that readers see the old or the new content and never a mix. The
// file keeps its mode, the previous content is kept in a backup, and missing directories
// are created. If the file changed since c was planned, nothing is written. An up-to-date
// change writes nothing.
func (w Writer) Apply(c *Change) (Result, error) {
	res := Result{Path: c.target, Created: !c.Existed}
	if c.UpToDate() {
		return res, nil
	}
	cur, err := os.ReadFile(c.target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if c.Existed {
			return res, fmt.Errorf("%s was removed since it was read; run again", c.Location.Path)
		}
	case err != nil:
		return res, fmt.Errorf("reading %s: %w", c.Location.Path, err)
	case !c.Existed || !bytes.Equal(cur, c.Old):
		return res, fmt.Errorf("%s changed since it was read (is the client rewriting it?); run again", c.Location.Path)
	}
	dir := filepath.Dir(c.target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("creating %s: %w", dir, err)
	}
	if c.Existed {
		if res.Backup, err = w.backup(c.target, c.Old, c.Mode); err != nil {
			return res, fmt.Errorf("writing a backup of %s (nothing was changed): %w", c.Location.Path, err)
		}
	}
	if err := w.writeAtomic(c.target, c.New, c.Mode); err != nil {
		return res, err
	}
	return res, nil
}

// backup writes data to a new file next to path, named after the time, and returns its
// name. An existing file is never replaced: a second backup in the same second gets a
// "-2" (then "-3", ...) suffix.
func (w Writer) backup(path string, data []byte, mode fs.FileMode) (string, error) {
	suffix, now := w.BackupSuffix, w.Now
	if suffix == "" {
		suffix = ".bak"
	}
	if now == nil {
		now = time.Now
	}
	base := path + suffix + "." + now().UTC().Format("20060102T150405Z")
	for n := 1; n < 1000; n++ {
		name := base
		if n > 1 {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Chmod(mode) // the umask may have narrowed it
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(name)
			return "", err
		}
		return name, nil
	}
	return "", fmt.Errorf("too many backups named %s-N; remove some", base)
}

func (w Writer) writeAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	rename := w.Rename
	if rename == nil {
		rename = os.Rename
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err = rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	// Make the rename itself durable; not every OS can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
