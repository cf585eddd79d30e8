package demoha

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/status"
)

// holdBeforeRestart is how long after the change's apply the demo waits
// for the fleet to converge before it restarts the killed replica.
const holdBeforeRestart = 3 * time.Second

// routeSplit is the quickstart's Route with v1's and v2's weights.
// The demo's changes move the split but keep both versions: gRPC-Go may
// fail the first calls to a cluster a change adds to those a client
// uses ("unknown cluster selected for RPC": it selects by the new route
// before its balancer has the new cluster), which is no failover's
// doing and would blur what the demo shows.
const routeSplit = `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: default}
spec:
  service: echo
  rules:
    - name: canary
      backends:
        - {subset: {version: v1}, weight: %d}
        - {subset: {version: v2}, weight: %d}
`

// split is a Route's percentage of calls to v1, the rest to v2.
type split int

func (s split) String() string { return fmt.Sprintf("%d%% v1, %d%% v2", int(s), 100-int(s)) }

// killPhase kills victim with SIGKILL under traffic, applies a change
// to the split to, and waits for every proxy to be connected to a live
// replica and the client to follow the change (see recover). It returns
// what the kill cost and how the fleet recovered.
func (d *demo) killPhase(ctx context.Context, victim *replica, why string, to split, restart bool) (*Kill, error) {
	k := &Kill{Victim: victim.name, Why: why}
	calls0, failed0, _ := d.client.totals()
	cpBefore := nameOf(d.cpLeader())
	d.step("kill -9 %s (%s) under traffic", victim.name, why)
	d.say("connected: %s", d.whereConnected())
	killed := time.Now()
	victim.proc.kill()
	leaders := d.watchLeaders(ctx, killed)
	reconnected := d.watchReconnected(killed)
	live := d.live()
	if len(live) == 0 {
		return nil, errors.New("no replica is left running")
	}
	survivor := live[0]
	acked, refused, err := d.applyRoute(survivor, to)
	if err != nil {
		return nil, err
	}
	k.Refused, k.WritesResumed = refused, acked.Sub(killed)
	d.say("change (%s) acknowledged by %s %.2fs after the kill, %d applies refused with 503 before it", to, survivor.name, k.WritesResumed.Seconds(), refused)
	if err := d.recover(k, victim, survivor, killed, acked, to, restart); err != nil {
		return nil, err
	}
	// Both polls see the same logs; converging needs every proxy
	// connected, so the earlier observation of it counts.
	if k.Reconnected = <-reconnected; k.Converged > 0 && (k.Reconnected == 0 || k.Converged < k.Reconnected) {
		k.Reconnected = k.Converged
	}
	l := <-leaders
	if l.err != nil {
		return nil, l.err
	}
	k.EtcdLeader, k.CPLeader = l.etcd, l.cp
	cpMoved := "unchanged"
	if l.cp != cpBefore {
		cpMoved = fmt.Sprintf("moved from %s, seen %.2fs after the kill", cpBefore, l.cpAfter.Seconds())
	}
	d.say("etcd leader: %s (seen %.2fs after the kill); control-plane leader: %s (%s)", l.etcd, l.etcdAfter.Seconds(), l.cp, cpMoved)
	time.Sleep(time.Second) // a second of traffic after the recovery
	calls, failed, firstErr := d.client.totals()
	k.Calls, k.Failed = calls-calls0, failed-failed0
	d.say("calls since the kill: %d made, %d failed%s", k.Calls, k.Failed, firstError(firstErr))
	return k, nil
}

// recover waits for the fleet to converge on the change acknowledged at
// acked, and records when it did in k. It restarts the victim when
// restart is set (so that etcd keeps a quorum through the next kill),
// or when the fleet has not converged holdBeforeRestart after the apply:
// a proxyless app keeps its configuration while its first xDS server is
// down, and takes changes again once that server is back.
func (d *demo) recover(k *Kill, victim, survivor *replica, killed, acked time.Time, to split, restart bool) error {
	converged := func() bool { return d.client.follows(acked, to) && d.fleetConnected() && d.fleetSynced(survivor) }
	_, ok := within(holdBeforeRestart, converged)
	if !ok {
		d.say("%s after the apply the fleet has not converged: %s; the client still calls by its last configuration (%s)",
			secs(holdBeforeRestart), d.whereConnected(), d.client.lastSplit())
	}
	if restart || !ok {
		why := ""
		if restart {
			why = ", so that etcd keeps a quorum when its leader is killed next"
		}
		d.say("restarting %s on its data dir (as a supervisor would)%s", victim.name, why)
		k.Restarted, k.RestartedAt = true, time.Since(killed)
		if err := d.startReplica(victim); err != nil {
			return err
		}
		if err := victim.serving(60 * time.Second); err != nil {
			return err
		}
		d.say("%s serving again %.2fs after the kill", victim.name, time.Since(killed).Seconds())
		if !ok {
			_, ok = within(30*time.Second, converged)
		}
	}
	if !ok {
		d.say("the fleet did NOT converge on the change within 30s of the restart: %s", d.whereConnected())
		return nil
	}
	k.Converged = time.Since(killed)
	d.say("fleet converged %.2fs after the kill (%.2fs after the apply): %s; the client's calls split %s; every proxy SYNCED",
		k.Converged.Seconds(), time.Since(acked).Seconds(), d.whereConnected(), to)
	return nil
}

// applyRoute applies routeSplit on r, sending it again while r answers 503
// (etcd electing a leader), for at most 20 s; it returns when it was
// acknowledged and how many times it was refused.
func (d *demo) applyRoute(r *replica, to split) (time.Time, int, error) {
	c, err := r.admin()
	if err != nil {
		return time.Time{}, 0, err
	}
	files := []client.File{{Name: "route.yaml", Content: fmt.Sprintf(routeSplit, int(to), 100-int(to))}}
	refused := 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Apply(ctx, files, false)
		cancel()
		if err == nil {
			return time.Now(), refused, nil
		}
		var ce *client.Error
		if !errors.As(err, &ce) || ce.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return time.Time{}, refused, fmt.Errorf("apply on %s: %w", r.name, err)
		}
		if refused++; refused == 1 {
			d.say("apply refused (503): %s", ce.Message)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leadersSeen is who leads etcd and the control planes after a kill,
// and when each was first seen.
type leadersSeen struct {
	etcd, cp           string
	etcdAfter, cpAfter time.Duration
	err                error
}

// watchLeaders polls, from the kill on and for at most 20 s, for a live
// etcd leader and a live control-plane leader, and sends what it saw.
func (d *demo) watchLeaders(ctx context.Context, killed time.Time) <-chan leadersSeen {
	ch := make(chan leadersSeen, 1)
	go func() {
		var s leadersSeen
		within(20*time.Second, func() bool {
			if s.etcd == "" {
				if l, err := d.etcdLeader(ctx); err == nil {
					s.etcd, s.etcdAfter = l.name, time.Since(killed)
				}
			}
			if s.cp == "" {
				if l := d.cpLeader(); l != nil {
					s.cp, s.cpAfter = l.name, time.Since(killed)
				}
			}
			return s.etcd != "" && s.cp != ""
		})
		if s.etcd == "" || s.cp == "" {
			s.err = fmt.Errorf("20s after the kill: etcd leader %q, control-plane leader %q (empty: none among the live replicas)", s.etcd, s.cp)
		}
		ch <- s
	}()
	return ch
}

// watchReconnected polls, from the kill on and for at most 40 s, for
// every proxy to be connected to a live replica, and sends how long that
// took (zero when it did not).
func (d *demo) watchReconnected(killed time.Time) <-chan time.Duration {
	ch := make(chan time.Duration, 1)
	go func() {
		if _, ok := within(40*time.Second, d.fleetConnected); ok {
			ch <- time.Since(killed)
			return
		}
		ch <- 0
	}()
	return ch
}

// connRE is a replica's log line of a proxy connecting or leaving.
var connRE = regexp.MustCompile(`proxy (connected|disconnected).*node=(\S+) flavour=(\S+)`)

// connections returns, for each proxy (node and flavour), the live
// replica it is connected to, from the replicas' logs of this run.
func (d *demo) connections() map[string]string {
	at := map[string]string{}
	for _, r := range d.live() {
		for _, m := range connRE.FindAllStringSubmatch(r.proc.output(), -1) {
			key := m[2] + " " + m[3]
			switch {
			case m[1] == "connected":
				at[key] = r.name
			case at[key] == r.name:
				delete(at, key)
			}
		}
	}
	return at
}

// fleetConnected says whether each app and its agent are connected to a
// live replica.
func (d *demo) fleetConnected() bool {
	at := d.connections()
	for _, a := range apps {
		if at[a.name+".default proxyless"] == "" || at[a.name+".default agent"] == "" {
			return false
		}
	}
	return true
}

// whereConnected says which replica each proxy is connected to.
func (d *demo) whereConnected() string {
	at := d.connections()
	var parts []string
	for _, a := range apps {
		for _, f := range []string{"proxyless", "agent"} {
			r := at[a.name+".default "+f]
			if r == "" {
				r = "not connected"
			}
			parts = append(parts, fmt.Sprintf("%s (%s) on %s", a.name, f, r))
		}
	}
	return strings.Join(parts, ", ")
}

// fleetSynced says whether r's /v1/proxies, the whole fleet's, has
// every proxy in a settled state.
func (d *demo) fleetSynced(r *replica) bool {
	c, err := r.admin()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ps, err := c.Proxies(ctx)
	if err != nil || len(ps) == 0 {
		return false
	}
	for _, p := range ps {
		if p.SyncState != status.SyncSynced && p.SyncState != status.SyncNoWorkload {
			return false
		}
	}
	return true
}

func firstError(s string) string {
	if s == "" {
		return ""
	}
	return " (first: " + s + ")"
}
