package cache

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// go-control-plane's per-watch Info and per-response Debug lines move one
// level down, so an operator at info sees only warnings and errors.
func TestLoggerAdapterLevels(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(hclog.New(&hclog.LoggerOptions{Name: "xds.cache", Level: hclog.Info, Output: &buf}))
	l.Debugf("respond %d", 1)
	l.Infof("open watch %d", 2)
	l.Warnf("stale nonce %d", 3)
	l.Errorf("failed %d", 4)
	out := buf.String()
	for _, hidden := range []string{"respond 1", "open watch 2"} {
		if strings.Contains(out, hidden) {
			t.Errorf("%q logged at info level:\n%s", hidden, out)
		}
	}
	for _, shown := range []string{"[WARN]  xds.cache: stale nonce 3", "[ERROR] xds.cache: failed 4"} {
		if !strings.Contains(out, shown) {
			t.Errorf("missing %q in:\n%s", shown, out)
		}
	}
}
