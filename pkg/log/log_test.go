package log

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNamedSubLoggersSayWhoWrote(t *testing.T) {
	var b bytes.Buffer
	root := New("embassy-cp", Options{Level: "debug", Output: &b})
	root.Named(XDS).Named(Cache).Debug("pushed", "proxies", 3)
	root.Named(Identity).Trace("hidden below debug")
	out := b.String()
	if !strings.Contains(out, "[DEBUG] embassy-cp.xds.cache: pushed: proxies=3") {
		t.Fatalf("named debug line missing:\n%s", out)
	}
	if strings.Contains(out, "hidden") {
		t.Fatalf("a trace line passed a debug logger:\n%s", out)
	}
}

func TestJSONAndDefaultLevel(t *testing.T) {
	var b bytes.Buffer
	root := New("embassy-agent", Options{Level: "nonsense", JSON: true, Output: &b})
	root.Named(Agent).Debug("dropped at the default info level")
	root.Named(Agent).Named(SVID).Info("rotated", "serial", "1a")
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, b.String())
	}
	if line["@module"] != "embassy-agent.agent.svid" || line["@message"] != "rotated" || line["serial"] != "1a" {
		t.Fatalf("JSON line = %v", line)
	}
}
