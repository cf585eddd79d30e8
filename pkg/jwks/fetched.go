package jwks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// fetchedVersion is the version of Fetched's stored form; a reader
// refuses any other, so a newer writer's layout is never misread.
const fetchedVersion = 1

// Fetched is what the control plane learnt the last time it fetched a key
// set URL, in the form every replica sharing a store reads: the last good
// key set, when it was fetched, and how the latest attempt went. One
// replica fetches and stores it; every replica compiles from it, so all
// of them put the same keys in the same policy.
type Fetched struct {
	// URL is the key set's URL, kept in the value so that a value stored
	// under another URL's name is refused.
	URL string
	// JWKS is the last good key set as compact JSON; empty until a fetch
	// succeeded.
	JWKS string
	// FetchedAt is when JWKS was fetched; CheckedAt when the URL was last
	// tried, successfully or not.
	FetchedAt, CheckedAt time.Time
	// Error is why the latest attempt failed; empty after a success.
	Error string
}

// fetchedJSON is Fetched's stored form. The key set is embedded as JSON,
// not as a string of it, so a large set is not inflated by escaping.
type fetchedJSON struct {
	Version   int             `json:"version"`
	URL       string          `json:"url"`
	JWKS      json.RawMessage `json:"jwks,omitempty"`
	FetchedAt time.Time       `json:"fetchedAt,omitzero"`
	CheckedAt time.Time       `json:"checkedAt"`
	Error     string          `json:"error,omitempty"`
}

// Marshal returns the stored form of f.
func (f Fetched) Marshal() ([]byte, error) {
	v := fetchedJSON{Version: fetchedVersion, URL: f.URL, FetchedAt: f.FetchedAt, CheckedAt: f.CheckedAt, Error: f.Error}
	if f.JWKS != "" {
		v.JWKS = json.RawMessage(f.JWKS)
	}
	// Without HTML escaping the stored set is byte for byte the fetched
	// one, which is what the leader compiled before it stored it.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode the fetched key set of %s: %w", f.URL, err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// ParseFetched reads the stored form of url's fetched key set. It
// refuses a value that is not that form, names another URL, or holds a
// key set Parse refuses: such a value was damaged or written by something
// else, and compiling it into policies would refuse every token.
func ParseFetched(raw []byte, url string) (Fetched, error) {
	var v fetchedJSON
	if err := json.Unmarshal(raw, &v); err != nil {
		return Fetched{}, fmt.Errorf("stored key set of %s is not valid JSON: %v", url, err)
	}
	switch {
	case v.Version != fetchedVersion:
		return Fetched{}, fmt.Errorf("stored key set of %s has version %d, this build reads %d", url, v.Version, fetchedVersion)
	case v.URL != url:
		return Fetched{}, fmt.Errorf("stored key set of %s names URL %q instead", url, v.URL)
	case v.CheckedAt.IsZero():
		return Fetched{}, fmt.Errorf("stored key set of %s has no checkedAt time", url)
	}
	f := Fetched{URL: v.URL, FetchedAt: v.FetchedAt, CheckedAt: v.CheckedAt, Error: v.Error}
	if !Present(v.JWKS) {
		if v.Error == "" {
			return Fetched{}, errors.New("stored key set of " + url + " holds neither keys nor the error that kept them")
		}
		return f, nil
	}
	if _, err := Parse(v.JWKS); err != nil {
		return Fetched{}, fmt.Errorf("stored key set of %s: %w", url, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, v.JWKS); err != nil {
		return Fetched{}, fmt.Errorf("stored key set of %s: %w", url, err)
	}
	f.JWKS = compact.String()
	return f, nil
}
