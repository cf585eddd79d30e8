//go:build proto

package wire

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The checked-in Go code is what `make proto` generates from
// identity.proto now. It runs under `make test-proto` (the build tag
// keeps plain `go test` free of protoc); it fails, never skips, when
// protoc is missing, since then it proves nothing.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	for _, tool := range []string{"protoc", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH; install it (apt-get install -y protobuf-compiler make) and run make test-proto", tool)
		}
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command("make", "-s", "-C", root, "proto", "PROTO_OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make proto: %v\n%s", err, b)
	}
	for _, name := range []string{"identity.pb.go", "identity_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(out, "pkg/identity/wire", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(withoutProtocVersion(got), withoutProtocVersion(want)) {
			t.Errorf("pkg/identity/wire/%s is not what identity.proto generates: run make proto and commit the result", name)
		}
	}
}

// withoutProtocVersion drops the header line naming protoc's version: a
// newer protoc makes the same code, and that is not staleness.
func withoutProtocVersion(src []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(src, []byte("\n")) {
		l := string(line)
		if strings.HasPrefix(l, "// \tprotoc ") || strings.HasPrefix(l, "// - protoc ") {
			continue
		}
		out = append(out, line)
	}
	return bytes.Join(out, []byte("\n"))
}
