package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"embassy.dev/embassy/internal/atomicfile"
)

// RecordFile is the name of the data dir's record, beside DBFile. It says
// which store the dir holds, so that the loss of DBFile is noticed instead
// of papered over with a new store and a new CA.
const RecordFile = "embassy-store.json"

// recordVersion is the layout of RecordFile this build writes and reads.
const recordVersion = 1

// Record is what a data dir holds, kept in RecordFile outside the
// database so that it survives the database's loss.
type Record struct {
	Version int `json:"version"`
	// StoreID is the id the database carries too (in its meta bucket); a
	// database with another id is not this dir's.
	StoreID   string    `json:"storeId"`
	CreatedAt time.Time `json:"createdAt"`
	// TrustDomain and CAFingerprints (hex SHA-256 of each root's DER)
	// describe the builtin CA the store keeps, once it has made one.
	TrustDomain    string   `json:"trustDomain,omitempty"`
	CAFingerprints []string `json:"caFingerprints,omitempty"`
}

// ReadRecord returns the record of dataDir, or nil when the dir has none
// (it has never held a store of this build).
func ReadRecord(dataDir string) (*Record, error) {
	path := filepath.Join(dataDir, RecordFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the data dir's record %s: %w", path, err)
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("the data dir's record %s is not valid JSON (%v): restore it from a backup of the data dir, "+
			"or restore the store with embassy-cp restore --force, which writes it anew", path, err)
	}
	if r.Version != recordVersion {
		return nil, fmt.Errorf("the data dir's record %s has version %d, this embassy-cp reads %d: run the embassy-cp that wrote it", path, r.Version, recordVersion)
	}
	if r.StoreID == "" {
		return nil, fmt.Errorf("the data dir's record %s names no storeId: restore it from a backup of the data dir, "+
			"or restore the store with embassy-cp restore --force, which writes it anew", path)
	}
	return &r, nil
}

// WriteRecord replaces the record of dataDir atomically (a new file, synced,
// renamed over the old one), with mode 0600.
func WriteRecord(dataDir string, r Record) error {
	r.Version = recordVersion
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the data dir's record: %w", err)
	}
	path := filepath.Join(dataDir, RecordFile)
	if err := atomicfile.WriteFile(path, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the data dir's record %s: %w", path, err)
	}
	return nil
}

// sameCA reports whether the record already says td and fingerprints.
func (r Record) sameCA(td string, fingerprints []string) bool {
	return r.TrustDomain == td && slices.Equal(r.CAFingerprints, fingerprints)
}

// describe names what the record says the dir holds, for errors.
func (r Record) describe() string {
	s := "store " + r.StoreID
	if r.TrustDomain != "" {
		s += ", trust domain " + r.TrustDomain
	}
	if len(r.CAFingerprints) > 0 {
		s += ", CA root " + r.CAFingerprints[len(r.CAFingerprints)-1]
	}
	return s
}
