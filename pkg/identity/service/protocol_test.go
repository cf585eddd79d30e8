package service

import (
	"crypto/tls"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
)

// oldJSONCodec is how agents before embassy.identity.v1 encoded their
// calls: encoding/json under the "json" content-subtype.
type oldJSONCodec struct{}

func (oldJSONCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (oldJSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
func (oldJSONCodec) Name() string                       { return "json" }

// rawConn dials the service with TLS but no client certificate, as Attest
// allows. The server's certificate is not checked: these calls test the
// encoding, and no secret they carry is real.
func rawConn(t *testing.T, e *env) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(e.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}))) //nolint:gosec // see above
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// An agent of the previous version, which sent JSON, is refused before its
// request is read, with a message that names the API and says to upgrade;
// its single-use token stays usable by the upgraded agent.
func TestAnAgentSpeakingTheOldJSONProtocolIsRefused(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	tok := e.token("shop", "a", "", time.Hour, true)
	old := struct {
		Token string `json:"token"`
		CSR   []byte `json:"csr"`
	}{Token: tok, CSR: a.csr("")}
	var resp struct {
		SPIFFEID string `json:"spiffeID"`
	}
	err := rawConn(t, e).Invoke(ctx(t), wire.Identity_Attest_FullMethodName, &old, &resp, grpc.ForceCodec(oldJSONCodec{}))
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("an old JSON Attest: %v, want FailedPrecondition", err)
	}
	for _, want := range []string{"embassy.identity.v1", "protobuf", `"json"`, "upgrade embassy-agent"} {
		if !strings.Contains(status.Convert(err).Message(), want) {
			t.Errorf("the refusal %q does not say %q", status.Convert(err).Message(), want)
		}
	}
	if resp.SPIFFEID != "" {
		t.Fatalf("the old agent got an SVID for %s", resp.SPIFFEID)
	}
	e.attest(a, tok, "")
}
