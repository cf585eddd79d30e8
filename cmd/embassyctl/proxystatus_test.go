package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestProxyStatusOfOneProxy connects a proxy that acks and one that
// rejects every response over real ADS, then asks for each by id: the
// NACKing proxy's rows come with its message, and --config prints what it
// was sent.
func TestProxyStatusOfOneProxy(t *testing.T) {
	cp, tokenFile := startControlPlane(t)
	connectProxies(t, cp, []string{"good.default"}, []string{"bad.default"})

	code, out, errOut := runCtl(t, cp, tokenFile, "proxy-status", "bad.default")
	if code != 0 || !strings.Contains(out, "bad.default") || strings.Contains(out, "good.default") ||
		!strings.Contains(out, "Cluster rejected version") || !strings.Contains(out, "cluster rejected by bad.default") {
		t.Fatalf("proxy-status bad.default: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCtl(t, cp, tokenFile, "proxy-status", "missing.default")
	if code == 0 || !strings.Contains(errOut, `no proxy "missing.default" is connected`) {
		t.Fatalf("proxy-status of an unknown proxy: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = runCtl(t, cp, tokenFile, "proxy-status", "good.default", "--config")
	var dump struct {
		Proxy   string            `json:"proxy"`
		Configs []json.RawMessage `json:"configs"`
		Diff    map[string]any    `json:"diff"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &dump) != nil || dump.Proxy != "good.default" || len(dump.Diff) == 0 {
		t.Fatalf("proxy-status --config: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCtl(t, cp, tokenFile, "proxy-status", "--config"); code == 0 || !strings.Contains(errOut, "--config needs a proxy ID") {
		t.Fatalf("--config without an id: exit %d %s", code, errOut)
	}
}
