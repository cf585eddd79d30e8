package api

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/store"
)

func TestBackupIsForTheAdminAndIsAStore(t *testing.T) {
	b, err := store.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv := httptest.NewServer(NewHandler(Options{Store: b, AdminToken: testToken, ReadTokens: []string{"reader"}, Backup: b.Backup}))
	defer srv.Close()
	get := func(token string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/backup", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for token, want := range map[string]int{"": http.StatusUnauthorized, "reader": http.StatusForbidden} {
		if resp := get(token); resp.StatusCode != want {
			t.Errorf("GET /v1/backup with token %q = %d, want %d", token, resp.StatusCode, want)
		}
	}
	resp := get(testToken)
	defer resp.Body.Close()
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.ReadFrom(resp.Body)
	f.Close()
	if err != nil || resp.StatusCode != http.StatusOK || n != resp.ContentLength {
		t.Fatalf("GET /v1/backup = %d, %d of %d bytes, %v", resp.StatusCode, n, resp.ContentLength, err)
	}
	info, err := store.InspectBackup(path)
	if err != nil || info.StoreID != b.Record().StoreID || info.StoreID != resp.Header.Get(apiwire.HeaderStoreID) ||
		strconv.FormatInt(info.Revision, 10) != resp.Header.Get(apiwire.HeaderRevision) {
		t.Errorf("the backup reads as %+v, %v; headers %v; want store %s", info, err, resp.Header, b.Record().StoreID)
	}
}

func TestBackupOfAMemoryStoreSaysWhy(t *testing.T) {
	h := newHarness(t, nil)
	if code, body := h.do(http.MethodGet, "/v1/backup", testToken, nil); code != http.StatusNotImplemented {
		t.Errorf("GET /v1/backup of a memory store = %d %s, want 501", code, body)
	}
}
