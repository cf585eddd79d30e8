package identity

import (
	"bytes"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/store"
)

func newKEK(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KEKSize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func sealed(t *testing.T, sec store.Secrets, kek []byte) store.Secrets {
	t.Helper()
	s, err := SealCASecrets(sec, kek)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSealedCAKeepsNoPrivateKeyInTheStore makes a CA over sealed secrets
// and reads the store underneath: no private key, no DER of one, and the
// CA loads again only with the same key.
func TestSealedCAKeepsNoPrivateKeyInTheStore(t *testing.T) {
	mem := store.NewMemory()
	kek := newKEK(t)
	ca, err := LoadOrCreateCA(sealed(t, mem, kek), CAConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := mem.GetSecret(SecretRoots)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte(sealedMagic)) || bytes.Contains(raw, []byte("PRIVATE KEY")) || bytes.Contains(raw, []byte(`"key"`)) {
		t.Fatalf("the store holds the CA state unsealed: %.80q", raw)
	}
	if blk, _ := pem.Decode(raw); blk != nil {
		t.Fatalf("the store holds a PEM block %q", blk.Type)
	}
	again, err := LoadOrCreateCA(sealed(t, mem, kek), CAConfig{}, nil)
	if err != nil || again.Roots()[0].Fingerprint != ca.Roots()[0].Fingerprint {
		t.Fatalf("the CA does not load again with its key: %v", err)
	}
	if _, err := LoadOrCreateCA(sealed(t, mem, newKEK(t)), CAConfig{}, nil); !errors.Is(err, ErrSealed) || !strings.Contains(err.Error(), "--ca-key-encryption-key-file") {
		t.Errorf("another key: %v, want ErrSealed naming the flag", err)
	}
	if _, err := LoadOrCreateCA(sealed(t, mem, nil), CAConfig{}, nil); !errors.Is(err, ErrSealed) || !strings.Contains(err.Error(), "--ca-key-encryption-key-file") {
		t.Errorf("no key: %v, want ErrSealed naming the flag", err)
	}
	if after, _ := mem.GetSecret(SecretRoots); !bytes.Equal(after, raw) {
		t.Error("a refused key changed the stored CA state")
	}
}

// TestSealingAPlaintextCAStateOnFirstRead seals a CA state restored from
// an unsealed backup as soon as it is read, and keeps other secrets as
// they are.
func TestSealingAPlaintextCAStateOnFirstRead(t *testing.T) {
	mem := store.NewMemory()
	ca, err := LoadOrCreateCA(mem, CAConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.PutSecret("tokens", []byte("[]")); err != nil {
		t.Fatal(err)
	}
	kek := newKEK(t)
	again, err := LoadOrCreateCA(sealed(t, mem, kek), CAConfig{}, nil)
	if err != nil || again.Roots()[0].Fingerprint != ca.Roots()[0].Fingerprint {
		t.Fatalf("the plaintext CA state does not load through a key: %v", err)
	}
	if raw, _ := mem.GetSecret(SecretRoots); !bytes.HasPrefix(raw, []byte(sealedMagic)) {
		t.Fatal("the plaintext CA state was not sealed on its first read")
	}
	if raw, _ := mem.GetSecret("tokens"); string(raw) != "[]" {
		t.Errorf("the tokens were changed: %q", raw)
	}
}

// TestASealedSecretOpensOnlyUnderItsName moves a sealed value under
// another CA secret's name: it does not open there.
func TestASealedSecretOpensOnlyUnderItsName(t *testing.T) {
	mem := store.NewMemory()
	kek := newKEK(t)
	if err := sealed(t, mem, kek).PutSecret(SecretProvidedJWT, []byte("jwt key")); err != nil {
		t.Fatal(err)
	}
	raw, _ := mem.GetSecret(SecretProvidedJWT)
	if err := mem.PutSecret(SecretRoots, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := sealed(t, mem, kek).GetSecret(SecretRoots); !errors.Is(err, ErrSealed) {
		t.Errorf("a sealed value moved under another name: %v, want ErrSealed", err)
	}
}

func TestParseKEK(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", " \n", "is empty"},
		{"not base64", "not*base64", "not standard base64"},
		{"too short", "c2hvcnQ=", "holds 5 bytes, want 32"},
	} {
		if _, err := ParseKEK([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "head -c 32 /dev/urandom") {
			t.Errorf("%s: %v, want an error saying %q and how to make a key", tc.name, err, tc.want)
		}
	}
	if k, err := ParseKEK([]byte("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")); err != nil || k[31] != 31 {
		t.Errorf("a valid key file: %v, %v", k, err)
	}
}

func FuzzParseKEK(f *testing.F) {
	f.Add([]byte("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"))
	f.Add([]byte(""))
	f.Add([]byte("====\n"))
	f.Add([]byte("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"))
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := ParseKEK(in)
		if err == nil && len(k) != KEKSize {
			t.Fatalf("accepted a %d-byte key", len(k))
		}
		if err != nil && k != nil {
			t.Fatal("a refused key file returned a key")
		}
	})
}

func TestWriteNewKEKFileIsReadBackAndNeverReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.kek")
	if err := WriteNewKEKFile(path); err != nil {
		t.Fatal(err)
	}
	key, err := ReadKEKFile(path)
	if err != nil || len(key) != KEKSize {
		t.Fatalf("ReadKEKFile of a new file = %d bytes, %v; want %d", len(key), err, KEKSize)
	}
	if err := WriteNewKEKFile(path); err == nil {
		t.Fatal("a second WriteNewKEKFile replaced the key")
	}
	again, err := ReadKEKFile(path)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("the key changed after a refused write: %v", err)
	}
}
