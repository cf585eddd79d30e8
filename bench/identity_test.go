package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestMeasureIdentitySignsOnEveryPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := MeasureIdentity(ctx, IdentityConfig{Duration: 100 * time.Millisecond, Clients: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 {
		t.Fatalf("%d results, want raw, CA, Attest and Renew", len(rs))
	}
	for _, r := range rs {
		if r.Signed == 0 || r.PerSecond() <= 0 {
			t.Fatalf("%s signed nothing", r.Name)
		}
	}
	var out bytes.Buffer
	WriteIdentityTable(&out, rs)
	if !strings.Contains(out.String(), "Renew over mTLS gRPC") || !strings.Contains(out.String(), "vs raw") {
		t.Fatalf("table:\n%s", out.String())
	}
}
