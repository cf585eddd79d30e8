package store_test

import (
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/store"
)

func TestParsePeers(t *testing.T) {
	got, err := store.ParsePeers("a=http://127.0.0.1:2380, b=https://[::1]:2381/")
	want := []store.Peer{{Name: "a", URL: "http://127.0.0.1:2380"}, {Name: "b", URL: "https://[::1]:2381"}}
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ParsePeers = %v, %v; want %v", got, err, want)
	}
	bad := map[string]string{
		"":                                     "is empty",
		"a":                                    "want name=",
		"=http://127.0.0.1:2380":               "member name",
		"a b=http://127.0.0.1:2380":            "member name",
		"a=127.0.0.1:2380":                     "peer URL",
		"a=tcp://127.0.0.1:2380":               "scheme",
		"a=http://127.0.0.1":                   "a host and a port",
		"a=http://u@127.0.0.1:2380":            "only scheme",
		"a=http://127.0.0.1:2380/x":            "only scheme",
		"a=http://127.0.0.1:2380,a=http://h:1": "listed twice",
		"a=http://127.0.0.1:2380,b=http://127.0.0.1:2380": "listed twice",
	}
	for in, frag := range bad {
		if _, err := store.ParsePeers(in); err == nil || !strings.Contains(err.Error(), frag) || !strings.Contains(err.Error(), "--etcd-peers") {
			t.Errorf("ParsePeers(%q) error = %v, want one naming --etcd-peers and %q", in, err, frag)
		}
	}
}

func FuzzParsePeers(f *testing.F) {
	for _, s := range []string{"a=http://127.0.0.1:2380", "a=http://127.0.0.1:2380,b=https://[::1]:2381/", "", "=", "a=http://:1", "a=http://h:1?x", "x=http://%zz:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		peers, err := store.ParsePeers(s)
		if err != nil {
			return
		}
		// What parses, formatted again, parses to the same members.
		parts := make([]string, len(peers))
		for i, p := range peers {
			if p.Name == "" || !strings.HasPrefix(p.URL, "http") {
				t.Fatalf("ParsePeers(%q) accepted %+v", s, p)
			}
			parts[i] = p.Name + "=" + p.URL
		}
		again, err := store.ParsePeers(strings.Join(parts, ","))
		if err != nil || len(again) != len(peers) {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
		for i := range again {
			if again[i] != peers[i] {
				t.Fatalf("round trip of %q: %+v became %+v", s, peers[i], again[i])
			}
		}
	})
}
