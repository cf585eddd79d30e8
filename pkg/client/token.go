package client

import (
	"fmt"
	"os"
	"strings"
)

// ReadTokenFile reads a bearer token from path, trimming whitespace. It
// refuses an empty file, so a mistake shows up here rather than as a
// puzzling 401.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w (pass --token-file or set EMBASSY_TOKEN_FILE to the admin-token file in embassy-cp's data directory)", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty: point --token-file at the admin-token file in embassy-cp's data directory", path)
	}
	return tok, nil
}
