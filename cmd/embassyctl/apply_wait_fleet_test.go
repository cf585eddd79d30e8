package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/rollout"
)

// replica is a control plane sharing an etcd store, with its admin token.
type replica struct {
	cp        *controlplane.ControlPlane
	tokenFile string
}

// startFleet starts n control planes with plaintext xDS on one real etcd
// member's store.
func startFleet(t *testing.T, n int) []replica {
	t.Helper()
	m := etcdtest.Start(t)
	shared, kek := etcdtest.Config(m.ClientURL()), etcdtest.KEKFile(t)
	var rs []replica
	for range n {
		cp, token := startControlPlane(t, func(c *controlplane.Config) {
			c.Store, c.Etcd, c.CAKeyEncryptionKeyFile = "etcd", shared, kek
		})
		rs = append(rs, replica{cp, token})
	}
	return rs
}

// getJSON decodes the API's answer to GET path on r.
func (r replica) getJSON(t *testing.T, path string, out any) {
	t.Helper()
	token, err := os.ReadFile(r.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.cp.APIAddr()+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// seesFleet waits until r's /v1/proxies lists every id: it has read the
// other replicas' reports.
func (r replica) seesFleet(t *testing.T, ids ...string) {
	t.Helper()
	poll.UntilState(t, fmt.Sprintf("%s to list %v", r.cp.APIAddr(), ids), func() (bool, string) {
		_, out, _ := runCtl(t, r.cp, r.tokenFile, "proxy-status")
		for _, id := range ids {
			if !strings.Contains(out, id) {
				return false, out
			}
		}
		return true, out
	})
}

// connectFleet connects pa to rs[0], pb to rs[1] and pc, answering as
// c says, to rs[2], and waits until rs[0] lists all three.
func connectFleet(t *testing.T, rs []replica, c answering) {
	t.Helper()
	for i, id := range []string{"pa.default", "pb.default"} {
		connectProxies(t, rs[i].cp, []string{id}, nil)
	}
	rawProxy(t, rs[2].cp.XDSAddr(), "pc.default", c)
	if c == holding {
		waitConnected(t, rs[2].cp, 1)
	}
	rs[0].seesFleet(t, "pa.default", "pb.default", "pc.default")
}

// TestApplyWaitWaitsForAProxyOnAnotherReplica holds the change on a
// proxy connected to the third replica: apply --wait on the first fails
// naming it and its replica, though every proxy of the first acked.
func TestApplyWaitWaitsForAProxyOnAnotherReplica(t *testing.T) {
	rs := startFleet(t, 3)
	connectFleet(t, rs, holding)
	code, out, errOut := runCtl(t, rs[0].cp, rs[0].tokenFile, "apply", "-f", echoFile(t), "--wait", "--timeout", "4s")
	want := "no answer within 4s from pc.default on replica " + rs[2].cp.APIAddr()
	if code != 1 || !strings.HasSuffix(strings.TrimSpace(errOut), want) || strings.Contains(errOut, "pa.default") || strings.Contains(errOut, "pb.default") {
		t.Fatalf("apply --wait: exit %d, want 1 and only %q\n%s%s", code, want, out, errOut)
	}
}

// TestApplyWaitReportsANackOnAnotherReplica: a proxy connected to the
// third replica rejects the change applied through the first.
func TestApplyWaitReportsANackOnAnotherReplica(t *testing.T) {
	rs := startFleet(t, 3)
	connectFleet(t, rs, nacking)
	code, out, errOut := runCtl(t, rs[0].cp, rs[0].tokenFile, "apply", "-f", echoFile(t), "--wait", "--timeout", "20s")
	want := fmt.Sprintf("rejected by pc.default on replica %s (cluster rejected by pc.default)", rs[2].cp.APIAddr())
	if code != 1 || !strings.Contains(errOut, want) {
		t.Fatalf("apply --wait: exit %d, want %q\n%s%s", code, want, out, errOut)
	}
}

// TestEveryReplicaReportsTheWholeFleetsChangesAndEvents: once every
// proxy acked a change applied through the first replica, the third
// reports each proxy with its replica, and lists the others' proxies'
// connect events and each replica's ack of its push.
func TestEveryReplicaReportsTheWholeFleetsChangesAndEvents(t *testing.T) {
	rs := startFleet(t, 3)
	connectFleet(t, rs, acking)
	code, out, errOut := runCtl(t, rs[0].cp, rs[0].tokenFile, "apply", "-f", echoFile(t), "--wait", "--timeout", "20s")
	if code != 0 || !strings.Contains(out, "3 proxies acknowledged it in") || !strings.Contains(out, "(a fleet of 3 replicas)") {
		t.Fatalf("apply --wait: exit %d\n%s%s", code, out, errOut)
	}
	id := rollout.ChangeID(rs[0].cp.Store().Revision())
	want := map[string]string{"pa.default": rs[0].cp.APIAddr(), "pb.default": rs[1].cp.APIAddr(), "pc.default": rs[2].cp.APIAddr()}
	poll.UntilState(t, "the third replica to report every proxy's ack of "+id, func() (bool, string) {
		var ch rollout.Change
		rs[2].getJSON(t, "/v1/changes/"+id, &ch)
		if ch.State != rollout.Converged || len(ch.Proxies) != 3 {
			return false, fmt.Sprintf("%+v", ch)
		}
		for _, p := range ch.Proxies {
			if p.State != rollout.Acked || p.Replica != want[p.ID] {
				return false, fmt.Sprintf("%+v", ch)
			}
		}
		return true, ""
	})
	rev := rs[0].cp.Store().Revision()
	poll.UntilState(t, "the third replica to list the other replicas' connect and ack events", func() (bool, string) {
		var evs apiwire.EventsResponse
		rs[2].getJSON(t, "/v1/events?limit=0", &evs)
		connected, acked := map[string]bool{}, map[string]bool{}
		for _, e := range evs.Events {
			switch {
			case e.Kind == events.KindConnect && want[e.Proxy] == e.Replica:
				connected[e.Proxy] = true
			case e.Kind == events.KindAck && e.Revision >= rev && e.Proxies == 1:
				acked[e.Replica] = true
			}
		}
		return len(connected) == 3 && len(acked) == 3, fmt.Sprintf("%+v", evs.Events)
	})
}
