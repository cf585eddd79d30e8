package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/store"
)

// loadLocked reads the records from the store unless they are unchanged
// since the last read. is.mu is held.
func (is *issuances) loadLocked() error {
	b, err := is.sec.GetSecret(SecretIssuances)
	if errors.Is(err, store.ErrNotFound) {
		if is.raw != nil {
			is.byKey, is.raw = map[string]*Issuance{}, nil
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the SVID issuance records: %w", err)
	}
	if is.raw != nil && bytes.Equal(b, is.raw) {
		return nil
	}
	byKey := map[string]*Issuance{}
	if err := json.Unmarshal(b, &byKey); err != nil {
		return fmt.Errorf("the SVID issuance records do not decode: %w", err)
	}
	is.byKey, is.raw = byKey, b
	return nil
}

// updateLocked lets change edit a copy of the records (it reports whether
// it changed anything), prunes them and swaps them into the store over
// what was read. When another control plane wrote first it reads the
// records again and redoes the change, so no replica's record is lost. A
// store that fails keeps the change in memory, logged: it is not fatal to
// the call that issued the certificate. is.mu is held.
func (is *issuances) updateLocked(change func(map[string]*Issuance) bool) {
	for range identity.MaxSwapTries {
		next := cloneIssuances(is.byKey)
		if !change(next) {
			return
		}
		prune(next, is.now())
		b, err := json.Marshal(next)
		if err == nil {
			err = is.sec.SwapSecret(SecretIssuances, is.raw, b)
		}
		if err == nil {
			is.byKey, is.raw = next, b
			return
		}
		if !errors.Is(err, store.ErrSecretChanged) {
			is.byKey = next
			is.log.Error("saving the SVID issuance records failed; /v1/certificates and renewals on other control planes may miss them", "error", err)
			return
		}
		if err := is.loadLocked(); err != nil {
			is.log.Error("reading the SVID issuance records to save a change failed", "error", err)
			return
		}
	}
	is.log.Error("saving the SVID issuance records failed: other control planes changed them on every try", "tries", identity.MaxSwapTries)
}

// cloneIssuances copies the records and the maps a change edits.
func cloneIssuances(byKey map[string]*Issuance) map[string]*Issuance {
	out := make(map[string]*Issuance, len(byKey))
	for k, r := range byKey {
		c := *r
		c.Live = maps.Clone(r.Live)
		out[k] = &c
	}
	return out
}
