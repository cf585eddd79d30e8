package jwks_test

import (
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"embassy.dev/embassy/pkg/jwks"
	"embassy.dev/embassy/policy/jwt/jwttest"
)

const fetchedURL = "https://id.example.com/.well-known/jwks.json"

// TestFetchedRoundTrip: what the leader stores is read back by every
// replica byte for byte, so all of them compile the same keys, even when
// the set holds characters JSON encoders like to escape.
func TestFetchedRoundTrip(t *testing.T) {
	doc := strings.Replace(jwttest.JWKS(t, jwttest.NewKey(t, jose.ES256, "k")), `"kid":"k"`, `"kid":"a<b>&c"`, 1)
	at := time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)
	for _, f := range []jwks.Fetched{
		{URL: fetchedURL, JWKS: compact(t, doc), FetchedAt: at, CheckedAt: at},
		{URL: fetchedURL, JWKS: compact(t, doc), FetchedAt: at, CheckedAt: at.Add(time.Minute), Error: "GET " + fetchedURL + ": 503 Service Unavailable"},
		{URL: fetchedURL, CheckedAt: at, Error: "dial tcp: connection refused"},
	} {
		raw, err := f.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if f.JWKS != "" && !strings.Contains(string(raw), `"kid":"a<b>&c"`) {
			t.Fatalf("the stored key set was escaped: %s", raw)
		}
		got, err := jwks.ParseFetched(raw, fetchedURL)
		if err != nil {
			t.Fatalf("ParseFetched(%s): %v", raw, err)
		}
		if got.URL != f.URL || got.JWKS != f.JWKS || !got.FetchedAt.Equal(f.FetchedAt) || !got.CheckedAt.Equal(f.CheckedAt) || got.Error != f.Error {
			t.Fatalf("read back %+v, stored %+v", got, f)
		}
	}
}

// TestFetchedRefusesDamagedValues: a stored value that is not a fetched
// key set of this URL is refused with an error naming the URL and what is
// wrong, never read as keys.
func TestFetchedRefusesDamagedValues(t *testing.T) {
	good := compact(t, jwttest.JWKS(t, jwttest.NewKey(t, jose.RS256, "r")))
	const at = `"checkedAt":"2026-12-07T21:00:00Z"`
	for _, c := range []struct{ name, raw, err string }{
		{"not JSON", `garbage`, "stored key set of " + fetchedURL + " is not valid JSON"},
		{"truncated", `{"version":1,"url":"` + fetchedURL + `","jwks":{"keys":[`, "is not valid JSON"},
		{"another version", `{"version":2,"url":"` + fetchedURL + `",` + at + `,"jwks":` + good + `}`, "has version 2, this build reads 1"},
		{"no version", `{"url":"` + fetchedURL + `",` + at + `,"jwks":` + good + `}`, "has version 0, this build reads 1"},
		{"another URL", `{"version":1,"url":"https://evil.example/jwks",` + at + `,"jwks":` + good + `}`, `names URL "https://evil.example/jwks" instead`},
		{"no checkedAt", `{"version":1,"url":"` + fetchedURL + `","jwks":` + good + `}`, "has no checkedAt time"},
		{"neither keys nor error", `{"version":1,"url":"` + fetchedURL + `",` + at + `}`, "holds neither keys nor the error"},
		{"keys that are no key set", `{"version":1,"url":"` + fetchedURL + `",` + at + `,"jwks":{"keys":[]}}`, "stored key set of " + fetchedURL + ": JWKS has no keys"},
		{"a symmetric key", `{"version":1,"url":"` + fetchedURL + `",` + at + `,"jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}}`, "JWKS has no usable key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := jwks.ParseFetched([]byte(c.raw), fetchedURL)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("ParseFetched = %+v, %v; want an error containing %q", got, err, c.err)
			}
			if !strings.Contains(err.Error(), fetchedURL) {
				t.Fatalf("the error does not name the URL: %v", err)
			}
		})
	}
}

// compact is doc as the fetcher keeps it.
func compact(t *testing.T, doc string) string {
	t.Helper()
	f := jwks.Fetched{URL: fetchedURL, JWKS: doc, CheckedAt: time.Now()}
	raw, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := jwks.ParseFetched(raw, fetchedURL)
	if err != nil {
		t.Fatal(err)
	}
	return got.JWKS
}
