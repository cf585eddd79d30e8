// Package jointoken is the format of the join tokens an agent presents for
// its first SVID: "emb1.<id>.<secret>", where the number is the format's
// version. The control plane makes and redeems tokens (package identity
// keeps them, hashed, in its store); an agent only checks that what it
// read is a token. Both sides use this package, so the format is written
// once and embassy-agent links no store.
package jointoken

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// prefix starts every join token; the number is the format version.
const prefix = "emb1."

// Sizes of a token's parts: the ID is 8 random bytes in hex, the secret 32
// random bytes in unpadded base64url.
const (
	idBytes     = 8
	secretBytes = 32
	idLen       = 2 * idBytes
	secretLen   = (secretBytes*8 + 5) / 6
)

// ErrInvalid is wrapped by every refusal of a token's form; the control
// plane also returns it for a well-formed token it does not know, so that
// unknown IDs and wrong secrets look the same.
var ErrInvalid = errors.New("join token is not valid: create one with `embassyctl token create`")

// New returns a fresh random token ID and secret, and the token made of
// them.
func New() (id, secret, token string, err error) {
	idRaw := make([]byte, idBytes)
	secretRaw := make([]byte, secretBytes)
	if _, err := rand.Read(idRaw); err != nil {
		return "", "", "", fmt.Errorf("random token ID: %w", err)
	}
	if _, err := rand.Read(secretRaw); err != nil {
		return "", "", "", fmt.Errorf("random token secret: %w", err)
	}
	id = hex.EncodeToString(idRaw)
	secret = base64.RawURLEncoding.EncodeToString(secretRaw)
	return id, secret, prefix + id + "." + secret, nil
}

// Parse checks the format of "emb1.<id>.<secret>" and splits it. It does
// not look the token up.
func Parse(s string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", "", fmt.Errorf("%w: a join token starts with %q", ErrInvalid, prefix)
	}
	id, secret, ok = strings.Cut(rest, ".")
	if !ok {
		return "", "", fmt.Errorf("%w: want emb1.<id>.<secret>", ErrInvalid)
	}
	if len(id) != idLen || !isLowerHex(id) {
		return "", "", fmt.Errorf("%w: the ID part is not %d lowercase hex digits", ErrInvalid, idLen)
	}
	if len(secret) != secretLen || !isBase64URL(secret) {
		return "", "", fmt.Errorf("%w: the secret part is not %d base64url characters (was the token cut short?)", ErrInvalid, secretLen)
	}
	return id, secret, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}
