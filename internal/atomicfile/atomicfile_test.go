package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCopyReplacesOnlyWhenComplete(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "backup.db")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("not a store")
	if _, err := Copy(path, strings.NewReader("half"), 0o600, func(string) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("Copy with a failing check = %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("a refused copy replaced the file with %q", got)
	}
	n, err := Copy(path, strings.NewReader("new!"), 0o600, func(tmp string) error {
		if fi, err := os.Stat(tmp); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("temporary file %v, %v: want mode 0600 before it is renamed", fi, err)
		}
		return nil
	})
	if got, _ := os.ReadFile(path); err != nil || n != 4 || string(got) != "new!" {
		t.Errorf("Copy = %d, %v; file %q", n, err, got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}
