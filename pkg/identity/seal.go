package identity

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"

	"embassy.dev/embassy/pkg/store"
)

// sealedMagic starts every sealed value, so a sealed value is never taken
// for a plaintext one (or the other way round) whatever the key.
const sealedMagic = "embassy-sealed-v1\n"

// sealedPrefix names the secrets that are sealed: the CA's, which hold its
// private keys. Tokens are stored hashed and issuance records hold no key.
const sealedPrefix = "ca/"

// ErrSealed is wrapped when a sealed secret cannot be opened: no key, or
// another key than the one that sealed it.
var ErrSealed = errors.New("sealed with a key-encryption key")

// sealedSecrets seals the CA's secrets with AES-256-GCM under a
// key-encryption key before they reach the store, and opens them when
// read. The secret's name is the additional data, so a sealed value moved
// under another name does not open.
type sealedSecrets struct {
	store.Secrets
	// aead is nil without a key: sealed values are then refused, naming
	// the flag that gives the key.
	aead cipher.AEAD

	mu sync.Mutex
	// stored maps a sealed secret's plaintext, as last read or written, to
	// the bytes the store holds, so SwapSecret can guard on those.
	stored map[string]sealedPair
}

type sealedPair struct{ plain, sealed []byte }

// SealCASecrets returns sec with the CA's secrets sealed under kek (an
// AES-256 key of KEKSize bytes), so the store never holds the CA's
// private keys in plaintext. A CA state stored in plaintext (restored
// from an unsealed backup) is sealed the first time it is read. With a
// nil kek nothing is sealed, and a sealed CA state is refused with an
// error that names --ca-key-encryption-key-file.
func SealCASecrets(sec store.Secrets, kek []byte) (store.Secrets, error) {
	s := &sealedSecrets{Secrets: sec, stored: map[string]sealedPair{}}
	if kek == nil {
		return s, nil
	}
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("key-encryption key is %d bytes, want %d", len(kek), KEKSize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	return s, nil
}

// GetSecret reads and, for a CA secret, opens the named secret.
func (s *sealedSecrets) GetSecret(name string) ([]byte, error) {
	raw, err := s.Secrets.GetSecret(name)
	if err != nil || !strings.HasPrefix(name, sealedPrefix) {
		return raw, err
	}
	plain, err := s.open(name, raw)
	if err != nil {
		return nil, err
	}
	s.remember(name, plain, raw)
	if s.aead != nil && !bytes.HasPrefix(raw, []byte(sealedMagic)) {
		// Sealed now, not at the next change: until then the store would
		// hold the key in plaintext. Another writer's change is sealed too.
		if err := s.SwapSecret(name, plain, plain); err != nil && !errors.Is(err, store.ErrSecretChanged) {
			return nil, fmt.Errorf("sealing the plaintext secret %q: %w", name, err)
		}
	}
	return plain, nil
}

// PutSecret seals a CA secret and stores it.
func (s *sealedSecrets) PutSecret(name string, value []byte) error {
	if !strings.HasPrefix(name, sealedPrefix) {
		return s.Secrets.PutSecret(name, value)
	}
	sealed, err := s.seal(name, value)
	if err != nil {
		return err
	}
	if err := s.Secrets.PutSecret(name, sealed); err != nil {
		return err
	}
	s.remember(name, value, sealed)
	return nil
}

// SwapSecret seals a CA secret and swaps it in over the bytes the
// plaintext old was read from. An old this wrapper did not read is
// reported changed: the caller reads again.
func (s *sealedSecrets) SwapSecret(name string, old, value []byte) error {
	if !strings.HasPrefix(name, sealedPrefix) {
		return s.Secrets.SwapSecret(name, old, value)
	}
	var oldRaw []byte
	if old != nil {
		s.mu.Lock()
		p, ok := s.stored[name]
		s.mu.Unlock()
		if !ok || !bytes.Equal(p.plain, old) {
			return fmt.Errorf("secret %q: %w", name, store.ErrSecretChanged)
		}
		oldRaw = p.sealed
	}
	sealed, err := s.seal(name, value)
	if err != nil {
		return err
	}
	if err := s.Secrets.SwapSecret(name, oldRaw, sealed); err != nil {
		return err
	}
	s.remember(name, value, sealed)
	return nil
}

// seal is value sealed for name, or value itself without a key.
func (s *sealedSecrets) seal(name string, value []byte) ([]byte, error) {
	if s.aead == nil {
		return append([]byte{}, value...), nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal secret %q: %w", name, err)
	}
	out := append([]byte(sealedMagic), nonce...)
	return s.aead.Seal(out, nonce, value, []byte(name)), nil
}

// open is the plaintext of the stored raw: raw itself when it was stored
// unsealed.
func (s *sealedSecrets) open(name string, raw []byte) ([]byte, error) {
	body, sealed := bytes.CutPrefix(raw, []byte(sealedMagic))
	if !sealed {
		return raw, nil
	}
	if s.aead == nil {
		return nil, fmt.Errorf("secret %q is %w: start embassy-cp with --ca-key-encryption-key-file naming the key it was sealed with", name, ErrSealed)
	}
	n := s.aead.NonceSize()
	if len(body) < n {
		return nil, fmt.Errorf("secret %q is %w but cut short (%d bytes): restore it from a backup", name, ErrSealed, len(raw))
	}
	plain, err := s.aead.Open(nil, body[:n], body[n:], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("secret %q is %w that is not the one in --ca-key-encryption-key-file: give every replica the same key file", name, ErrSealed)
	}
	return plain, nil
}

func (s *sealedSecrets) remember(name string, plain, sealed []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stored[name] = sealedPair{plain: append([]byte{}, plain...), sealed: append([]byte{}, sealed...)}
}
