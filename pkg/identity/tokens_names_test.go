package identity

import (
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/store"
)

// TestTokenNamesAndTTLAreChecked checks that a token is made only for
// names a resource could carry and a TTL within bounds, with a message
// naming the flag and the bound, and that a refused one is not stored.
func TestTokenNamesAndTTLAreChecked(t *testing.T) {
	toks, err := NewTokens(store.NewMemory(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ns, sa, workload string
		services         []string
		ttl              time.Duration
		want             string
	}{
		{"Shop", "web", "", nil, time.Hour, `namespace (--namespace) must be a DNS-1123 label`},
		{"shop", "web/../admin", "", nil, time.Hour, `service account (--service-account) must be a DNS-1123 label`},
		{"shop", "web", "x.other", nil, time.Hour, `workload (--workload) must be a DNS-1123 label`},
		{"shop", "web", "", []string{"web", ""}, time.Hour, `service (--service) must not be empty`},
		{"shop", "web", "", []string{"web", "web"}, time.Hour, `service (--service) "web" is named twice`},
		{"shop", "web", "", nil, MaxTokenTTL + time.Hour, "ttl 8761h (365 days) is longer than the maximum 8760h (365 days)"},
		{"shop", "web", "", nil, -time.Minute, "ttl -1m is negative"},
	} {
		if _, _, err := toks.Create(c.ns, c.sa, c.workload, c.ttl, false, c.services...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Create(%q, %q, %q, %v, %v): %v, want %q", c.ns, c.sa, c.workload, c.ttl, c.services, err, c.want)
		}
	}
	if n := len(toks.List()); n != 0 {
		t.Fatalf("%d refused tokens were stored", n)
	}
	if _, info, err := toks.Create("shop", "web", "web-1", MaxTokenTTL, false, "web", "web-admin"); err != nil || len(info.Services) != 2 {
		t.Fatalf("a valid token with services: %+v, %v", info, err)
	}
}

func TestParseTokenTTL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30m", 30 * time.Minute, ""},
		{"0", 0, ""},
		{"8760h", MaxTokenTTL, ""},
		// Too large for a time.Duration at all: the message still says
		// what is accepted, not "non-negative".
		{"100000000h", 0, `ttl "100000000h" is not a duration from 0 to 8760h (365 days)`},
		{"9000h", 0, "ttl 9000h (375 days) is longer than the maximum 8760h (365 days)"},
		{"-1h", 0, "ttl -1h is negative"},
		{"soon", 0, `ttl "soon" is not a duration`},
	} {
		got, err := ParseTokenTTL(c.in)
		if c.err == "" && (err != nil || got != c.want) || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ParseTokenTTL(%q) = %v, %v; want %v, %q", c.in, got, err, c.want, c.err)
		}
	}
}

// FuzzParseTokenTTL checks that any input is either refused or a TTL
// within bounds.
func FuzzParseTokenTTL(f *testing.F) {
	for _, s := range []string{"1h", "0", "8760h", "8760h0m1s", "100000000h", "-0", "-1ns", "1.5h", "", "9223372036854775807ns", "1e9h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTokenTTL(s)
		if err == nil && (d < 0 || d > MaxTokenTTL) {
			t.Fatalf("ParseTokenTTL(%q) accepted %v", s, d)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "ttl ") {
			t.Fatalf("ParseTokenTTL(%q): message %q does not name the ttl", s, err)
		}
	})
}
