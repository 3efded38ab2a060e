package nixhash

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// narMagic opens every Nix archive.
const narMagic = "nix-archive-1"

// HashPath returns the SRI form ("sha256-<base64>") of the SHA-256 of the Nix archive (NAR)
// of path: what `nix hash path path` prints, and what a fixed-output derivation with
// outputHashMode = "recursive" (such as buildGoModule's goModules) is checked against.
func HashPath(path string) (string, error) {
	h := sha256.New()
	if err := WriteNAR(h, path); err != nil {
		return "", err
	}
	return "sha256-" + base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// WriteNAR writes the Nix archive serialisation of the file tree at path to w.
//
// The format (Eelco Dolstra's thesis, section 5.2.1; Nix's libutil/archive.cc) is a sequence
// of strings, each a little-endian uint64 length, the bytes, and zero padding to a multiple
// of 8. A node is "(" "type" ... ")": a regular file adds an empty "executable" marker when
// its owner-execute bit is set, then "contents" and the bytes; a symlink adds "target"; a
// directory adds, for each entry in byte order of its name, "entry" "(" "name" N "node"
// <node> ")". Nothing else (times, owners, other permission bits) is recorded.
func WriteNAR(w io.Writer, path string) error {
	nw := &narWriter{w: bufio.NewWriterSize(w, 64<<10)}
	nw.str(narMagic)
	if err := nw.node(path); err != nil {
		return err
	}
	if nw.err != nil {
		return fmt.Errorf("write archive of %s: %w", path, nw.err)
	}
	if err := nw.w.Flush(); err != nil {
		return fmt.Errorf("write archive of %s: %w", path, err)
	}
	return nil
}

// narWriter keeps the first write error so that the serialisation code reads as the grammar.
type narWriter struct {
	w   *bufio.Writer
	err error
}

func (n *narWriter) u64(v uint64) {
	if n.err != nil {
		return
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, n.err = n.w.Write(b[:])
}

func (n *narWriter) pad(size uint64) {
	if n.err != nil || size%8 == 0 {
		return
	}
	var zeros [8]byte
	_, n.err = n.w.Write(zeros[:8-size%8])
}

func (n *narWriter) str(s string) {
	n.u64(uint64(len(s)))
	if n.err == nil {
		_, n.err = n.w.WriteString(s)
	}
	n.pad(uint64(len(s)))
}

func (n *narWriter) node(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("archive %s: %w", path, err)
	}
	n.str("(")
	n.str("type")
	switch mode := fi.Mode(); {
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return fmt.Errorf("archive %s: %w", path, err)
		}
		n.str("symlink")
		n.str("target")
		n.str(target)
	case mode.IsDir():
		n.str("directory")
		// os.ReadDir sorts by name with Go's string order, which is byte order, as Nix's is.
		entries, err := os.ReadDir(path)
		if err != nil {
			return fmt.Errorf("archive %s: %w", path, err)
		}
		for _, e := range entries {
			n.str("entry")
			n.str("(")
			n.str("name")
			n.str(e.Name())
			n.str("node")
			if err := n.node(filepath.Join(path, e.Name())); err != nil {
				return err
			}
			n.str(")")
		}
	case mode.IsRegular():
		n.str("regular")
		if mode&0o100 != 0 {
			n.str("executable")
			n.str("")
		}
		n.str("contents")
		if err := n.contents(path, fi.Size()); err != nil {
			return err
		}
	default:
		return fmt.Errorf("archive %s: Nix archives hold only files, directories and symlinks, not %v", path, mode.Type())
	}
	n.str(")")
	return nil
}

func (n *narWriter) contents(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("archive %s: %w", path, err)
	}
	defer f.Close()
	n.u64(uint64(size))
	if n.err != nil {
		return nil
	}
	copied, err := io.Copy(n.w, io.LimitReader(f, size+1))
	if err != nil {
		return fmt.Errorf("archive %s: %w", path, err)
	}
	if copied != size {
		return fmt.Errorf("archive %s: file changed size while being read (%d bytes, then %d)", path, size, copied)
	}
	n.pad(uint64(size))
	return nil
}
