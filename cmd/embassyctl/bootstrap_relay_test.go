package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// --xds-relay writes the bootstrap offline, and refuses the flags that
// would configure a direct stream it does not make.
func TestBootstrapGRPCThroughTheRelay(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--server", "http://127.0.0.1:1", "bootstrap", "grpc", "--workload", "client.default", "--xds-relay", "/run/embassy/client.default"}, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), `"unix:///run/embassy/client.default/xds.sock"`) {
		t.Fatalf("bootstrap grpc --xds-relay: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	for _, extra := range [][]string{{"--xds-address", "127.0.0.1:15010"}, {"--insecure"}} {
		out.Reset()
		errOut.Reset()
		args := append([]string{"bootstrap", "grpc", "--workload", "client.default", "--xds-relay", "/run/embassy/client.default"}, extra...)
		code := run(context.Background(), args, &out, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), "drop --xds-address and --insecure") {
			t.Errorf("%v: exit %d, stderr %q", extra, code, errOut.String())
		}
	}
}
