package identity

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
)

// KEKSize is the length of a key-encryption key: an AES-256 key.
const KEKSize = 32

// kekHint says how to make a key file.
const kekHint = "make one with `head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE` and give every replica the same file"

// ParseKEK reads a key-encryption key file's contents: the standard
// base64 of KEKSize random bytes, surrounding white space allowed.
func ParseKEK(contents []byte) ([]byte, error) {
	text := bytes.TrimSpace(contents)
	if len(text) == 0 {
		return nil, fmt.Errorf("is empty: %s", kekHint)
	}
	key := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(key, text)
	if err != nil {
		return nil, fmt.Errorf("is not standard base64 (%v): %s", err, kekHint)
	}
	if n != KEKSize {
		return nil, fmt.Errorf("holds %d bytes, want %d (an AES-256 key): %s", n, KEKSize, kekHint)
	}
	return key[:n], nil
}

// ReadKEKFile reads a key-encryption key from path, which only its owner
// may read: the key opens the CA's private keys.
func ReadKEKFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key file: %w", err)
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		return nil, fmt.Errorf("key-encryption key file %s may be read by others (mode %04o): chmod 600 %s", path, mode, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key file: %w", err)
	}
	key, err := ParseKEK(raw)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key file %s %w", path, err)
	}
	return key, nil
}

// WriteNewKEKFile writes a new random key-encryption key to path, mode
// 0600, in the form ReadKEKFile reads; it refuses to replace a file.
func WriteNewKEKFile(path string) error {
	key := make([]byte, KEKSize)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("key-encryption key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("key-encryption key file: %w", err)
	}
	return f.Close()
}
