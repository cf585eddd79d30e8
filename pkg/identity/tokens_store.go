package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"embassy.dev/embassy/pkg/store"
)

// MaxSwapTries bounds how often a change of a shared secret (CA state,
// join tokens, SVID issuance records) is redone because another control
// plane changed it first. Each try loses only to a write that succeeded,
// so it is reached only under a storm of writes.
const MaxSwapTries = 64

// loadLocked reads the tokens from the store unless they are unchanged
// since the last read; t.mu is held.
func (t *Tokens) loadLocked() error {
	raw, err := t.sec.GetSecret(SecretTokens)
	if errors.Is(err, store.ErrNotFound) {
		t.tokens, t.raw = map[string]*storedToken{}, nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("read join tokens %q: %w", SecretTokens, err)
	}
	if t.raw != nil && bytes.Equal(raw, t.raw) {
		return nil
	}
	var list []*storedToken
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("join tokens %q are not valid JSON: %v (restore them from a backup)", SecretTokens, err)
	}
	tokens := make(map[string]*storedToken, len(list))
	for _, st := range list {
		tokens[st.ID] = st
	}
	t.tokens, t.raw = tokens, raw
	return nil
}

// updateLocked reads the tokens, lets change edit a copy, and stores the
// copy only if the store still holds what was read. When another control
// plane on the same store wrote first it reads again and redoes the
// change, so no update is lost and a single-use token is redeemed once.
// An error from change leaves the store as it was; t.mu is held.
func (t *Tokens) updateLocked(change func(map[string]*storedToken) error) error {
	for range MaxSwapTries {
		if err := t.loadLocked(); err != nil {
			return err
		}
		next := make(map[string]*storedToken, len(t.tokens))
		for id, st := range t.tokens {
			c := *st
			c.TokenInfo = st.TokenInfo.clone()
			next[id] = &c
		}
		if err := change(next); err != nil {
			return err
		}
		raw, err := encodeTokens(next)
		if err != nil {
			return err
		}
		err = t.sec.SwapSecret(SecretTokens, t.raw, raw)
		if err == nil {
			t.tokens, t.raw = next, raw
			return nil
		}
		if !errors.Is(err, store.ErrSecretChanged) {
			return fmt.Errorf("store join tokens %q: %w", SecretTokens, err)
		}
	}
	return fmt.Errorf("join tokens %q were changed by other control planes on each of %d tries: try again", SecretTokens, MaxSwapTries)
}

// encodeTokens is the stored form: the tokens sorted by ID.
func encodeTokens(tokens map[string]*storedToken) ([]byte, error) {
	list := make([]*storedToken, 0, len(tokens))
	for _, st := range tokens {
		list = append(list, st)
	}
	slices.SortFunc(list, func(a, b *storedToken) int { return strings.Compare(a.ID, b.ID) })
	raw, err := json.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("encode join tokens: %w", err)
	}
	return raw, nil
}
