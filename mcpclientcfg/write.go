package mcpclientcfg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// A Writer writes [Change]s. Its zero value writes without backups or locking; callers set
// StateDir.
type Writer struct {
	// StateDir holds backups/ (the previous content of each changed file) and locks/. It is
	// the user's state directory ([System.StateDir]), never a project directory: a backup
	// beside .mcp.json would get committed. "" keeps no backup and takes no lock.
	StateDir string

	// Test hooks. keepBackups is how many backups per config file are kept, the newest; 0
	// means 5. rename moves the finished temporary file over the config file (tests make it
	// fail to show that a crash before the rename leaves the file intact); nil means the
	// checked replace. now is the time in the backup's name; nil means time.Now. lockWait
	// is how long to wait for another run's lock; 0 means 10 s.
	keepBackups int
	rename      func(oldpath, newpath string) error
	now         func() time.Time
	lockWait    time.Duration
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
// file keeps its mode, the previous content is kept in a backup under StateDir (the
// newest 5 per file), and missing directories are created. Our own concurrent
// runs are serialized by a lock file under StateDir, and the check that the file still
// holds what was planned on is made immediately before the rename: if it changed, nothing
// is written. An up-to-date change writes nothing.
func (w Writer) Apply(c *Change) (res Result, err error) {
	res = Result{Path: c.target, Created: !c.Existed}
	if c.UpToDate() {
		return res, nil
	}
	unlock, err := w.lock(c.target)
	if err != nil {
		return res, err
	}
	defer unlock()
	if err := c.unchanged(); err != nil { // fail early, before any work
		return res, err
	}
	dir := filepath.Dir(c.target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("creating %s: %w", dir, err)
	}
	if c.Existed && w.StateDir != "" {
		if res.Backup, err = w.backup(c.target, c.Old, c.Mode); err != nil {
			return res, fmt.Errorf("writing a backup of %s (nothing was changed): %w", c.Location.Path, err)
		}
	}
	if err := w.writeAtomic(c, c.New, c.Mode); err != nil {
		return res, err
	}
	w.prune(c.target)
	return res, nil
}

// unchanged checks that the file still holds what c was planned on.
func (c *Change) unchanged() error {
	cur, err := os.ReadFile(c.target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if c.Existed {
			return fmt.Errorf("%s was removed since it was read; nothing was written, run again", c.Location.Path)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading %s: %w", c.Location.Path, err)
	case !c.Existed || !bytes.Equal(cur, c.Old):
		return fmt.Errorf("%s changed since it was read (is the client rewriting it?); nothing was written, run again", c.Location.Path)
	}
	return nil
}

// fileKey names a config file's backups and lock: its base name and a hash of its path.
func fileKey(path string) string {
	sum := sha256.Sum256([]byte(path))
	return strings.TrimPrefix(filepath.Base(path), ".") + "-" + hex.EncodeToString(sum[:4])
}

// lock takes StateDir/locks/KEY.lock, waiting for another run that holds it. A lock older
// than a minute was left by a run that died, and is taken over.
func (w Writer) lock(target string) (unlock func(), err error) {
	if w.StateDir == "" {
		return func() {}, nil
	}
	dir := filepath.Join(w.StateDir, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	name := filepath.Join(dir, fileKey(target)+".lock")
	wait := w.lockWait
	if wait == 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			_ = f.Close()
			return func() { _ = os.Remove(name) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("locking %s: %w", target, err)
		}
		if st, serr := os.Stat(name); serr == nil && time.Since(st.ModTime()) > time.Minute {
			_ = os.Remove(name)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s is locked by another install-config (%s); nothing was written: wait for it, or remove the lock file if no install-config is running", target, name)
		}
		time.Sleep(20 * time.Millisecond) // polling a lock file; there is nothing to wait on
	}
}

// backups lists the backups of target, oldest first.
func (w Writer) backups(target string) []string {
	m, _ := filepath.Glob(filepath.Join(w.StateDir, "backups", fileKey(target)+".*"))
	sort.Strings(m) // the names end in a UTC timestamp, so this is by time
	return m
}

// prune keeps the newest keepBackups backups of target.
func (w Writer) prune(target string) {
	if w.StateDir == "" {
		return
	}
	keep := w.keepBackups
	if keep <= 0 {
		keep = 5
	}
	b := w.backups(target)
	for len(b) > keep {
		_ = os.Remove(b[0])
		b = b[1:]
	}
}

// backup writes data to a new file StateDir/backups/KEY.YYYYMMDDTHHMMSS.NNNZ and returns
// its name. An existing file is never replaced: a second backup in the same millisecond
// gets a "-2" (then "-3", ...) suffix.
func (w Writer) backup(target string, data []byte, mode fs.FileMode) (string, error) {
	now := w.now
	if now == nil {
		now = time.Now
	}
	dir := filepath.Join(w.StateDir, "backups")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	base := filepath.Join(dir, fileKey(target)+"."+now().UTC().Format("20060102T150405.000Z"))
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

// writeAtomic writes data to a synced temporary file beside c.target, checks that the
// file is unchanged, and renames the temporary file over it at once.
func (w Writer) writeAtomic(c *Change, data []byte, mode fs.FileMode) (err error) {
	path := c.target
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
	if w.rename != nil {
		err = w.renameChecked(c, tmp.Name())
	} else {
		err = replace(c, tmp.Name(), func(b []byte) (string, error) {
			if w.StateDir == "" {
				return "", errors.New("no state directory")
			}
			return w.backup(c.target, b, mode)
		})
	}
	if err != nil {
		return err
	}
	// Make the rename itself durable; not every OS can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// replacePortable checks that the file is unchanged, then renames tmp over it. Nothing
// slow happens between the two, but a client that writes in that instant is not seen.
func replacePortable(c *Change, tmp string) error {
	return Writer{rename: os.Rename}.renameChecked(c, tmp)
}

func (w Writer) renameChecked(c *Change, tmp string) error {
	if err := c.unchanged(); err != nil {
		return err
	}
	if err := w.rename(tmp, c.target); err != nil {
		return fmt.Errorf("replacing %s: %w", c.Location.Path, err)
	}
	return nil
}
