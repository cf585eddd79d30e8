//go:build peer

package extauthz

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

var (
	peerAddr = flag.String("peer-addr", "", "host:port of a running OPA-Envoy plugin's ext_authz gRPC server, serving the policy of -peer-case")
	peerCase = flag.String("peer-case", "", "the corpus directory (a name under policy/testdata/corpus) whose cases to ask the plugin")
	peerName = flag.String("peer-name", "opa-envoy-plugin", "what answered, as written in the recording")
)

// TestRecordPeer asks a running OPA-Envoy plugin, loaded with the policy
// and data of one corpus directory (its query as the plugin's path, and
// dry-run or v0 compatibility when the case's spec says so), for its
// answers to that directory's cases, and writes them to its peer.json for
// TestAnswersMatchPeer:
//
//	go test -tags peer -run TestRecordPeer ./policy/extauthz -peer-addr 127.0.0.1:9191 -peer-case object-metadata
//
// The plugin is never part of this repository; bring your own binary.
func TestRecordPeer(t *testing.T) {
	if *peerAddr == "" || *peerCase == "" {
		t.Fatal("-peer-addr and -peer-case are required")
	}
	dir := filepath.Join(corpusDir, *peerCase)
	_, cf := readCorpus(t, dir)
	conn, err := grpc.NewClient(*peerAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)

	var out peerAnswers
	out.Peer = *peerName
	for _, c := range cf.Cases {
		var req authv3.CheckRequest
		if err := protojson.Unmarshal(c.Request, &req); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := client.Check(ctx, &req)
		cancel()
		a := peerAnswer{Name: c.Name}
		if err != nil {
			a.Error = err.Error()
		} else {
			if md := resp.GetDynamicMetadata().GetFields(); md["decision_id"] != nil {
				md["decision_id"] = structpb.NewStringValue("*")
			}
			a.Response = json.RawMessage(protojson.Format(resp))
		}
		out.Answers = append(out.Answers, a)
	}
	raw, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, peerFile), append(raw, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d answers in %s", len(out.Answers), filepath.Join(dir, peerFile))
}
