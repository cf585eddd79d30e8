// Package atomicfile replaces files so that a reader, or a restart after a
// crash, sees the old content or the new, never a torn mix.
package atomicfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, with mode; see Copy.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	_, err := Copy(path, bytes.NewReader(data), mode, nil)
	return err
}

// Copy replaces path with what r yields: it writes a temporary file beside
// path with mode (set before any byte is written, so a secret is never
// readable by others), syncs it, renames it over path and syncs the dir.
// On error path is unchanged and the temporary file is gone. It returns
// the number of bytes written. check, when not nil, is called with the
// temporary file's path once it is complete; an error from it leaves path
// unchanged.
func Copy(path string, r io.Reader, mode os.FileMode, check func(tmp string) error) (int64, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	n, err := fill(f, r, mode)
	if err == nil && check != nil {
		err = check(tmp)
	}
	if err != nil {
		return n, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return n, err
	}
	return n, syncDir(dir)
}

// fill sets f's mode, copies r into it, syncs and closes it.
func fill(f *os.File, r io.Reader, mode os.FileMode) (int64, error) {
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// syncDir makes a rename in dir survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
