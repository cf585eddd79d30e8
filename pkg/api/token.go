package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// AdminTokenFile is the admin token's file name inside the data directory.
const AdminTokenFile = "admin-token"

// EnsureAdminToken returns the admin token and the file it is kept in.
// With tokenFile it reads that file, which must be non-empty and readable
// by its owner only. Otherwise it uses dataDir/admin-token, creating it with
// 32 random bytes in hex and mode 0600 when absent (created is then true).
func EnsureAdminToken(dataDir, tokenFile string) (token, path string, created bool, err error) {
	return ensureToken("admin token", "--admin-token-file", AdminTokenFile, dataDir, tokenFile)
}

// ensureToken reads tokenFile when it is set; otherwise it reads
// dataDir/name, creating it (32 random bytes in hex, mode 0600) when absent.
// what and flag name the token and its flag in errors.
func ensureToken(what, flag, name, dataDir, tokenFile string) (token, path string, created bool, err error) {
	if tokenFile != "" {
		token, err = readPrivateToken(tokenFile)
		return token, tokenFile, false, err
	}
	if dataDir == "" {
		return "", "", false, fmt.Errorf("%s: no data directory and no token file: pass --data-dir or %s", what, flag)
	}
	path = filepath.Join(dataDir, name)
	token, err = readPrivateToken(path)
	if err == nil {
		return token, path, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", path, false, err
	}
	token, err = createToken(path)
	if err != nil {
		return "", path, false, err
	}
	return token, path, true, nil
}

// readPrivateToken reads a token file, refusing one that others may read:
// the token grants every write to the mesh.
func readPrivateToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("admin token file %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("admin token file %s has mode %04o and may be read by others: run chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read admin token file %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("admin token file %s is empty: write a token into it, or delete it to have one generated", path)
	}
	return tok, nil
}

// createToken writes a new random token to path. O_EXCL makes two
// processes starting at once agree: the loser reads the winner's token.
func createToken(path string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create data directory for admin token: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	tok := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readPrivateToken(path)
	}
	if err != nil {
		return "", fmt.Errorf("create admin token file %s: %w", path, err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write admin token file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write admin token file %s: %w", path, err)
	}
	return tok, nil
}
