package e2e

import (
	"fmt"
	"sync"
	"testing"

	"embassy.dev/embassy/internal/nettest"
)

// TestProxylessTraffic drives the traffic surface of Route and
// TrafficPolicy through gRPC's own xDS client, one control plane for all of
// it: header and method matches, weighted clusters, timeouts, retries on
// gRPC codes, fault injection and ring-hash affinity. Every check counts
// what happened to real calls (which backend answered, with which status,
// how fast, and how many attempts reached a server), and every change of
// configuration is awaited by watching calls until they behave as the new
// configuration says.
func TestProxylessTraffic(t *testing.T) {
	dir := t.TempDir()
	m := &trafficMesh{cp: startCP(t, dir+"/data", "127.0.0.1:0", nettest.FreeAddr(t)), dir: dir, addrs: map[string]string{}}
	m.startServers(t, []trafficServer{
		{name: "v1", services: []string{"echo"}, labels: map[string]string{"version": "v1"}},
		{name: "v2", services: []string{"echo"}, labels: map[string]string{"version": "v2"}},
		{name: "slow", services: []string{"slow"}, args: []string{"--delay", "1s"}},
		{name: "flaky", services: []string{"flaky"}, args: []string{"--fail-every", "2", "--fail-code", "UNAVAILABLE"}},
		{name: "fault", services: []string{"fault"}},
		{name: "h1", services: []string{"hash"}},
		{name: "h2", services: []string{"hash"}},
		{name: "h3", services: []string{"hash"}},
	})
	m.boot = writeFile(t, dir, "bootstrap.json", m.cp.mustCtl(t, "bootstrap", "grpc", "--workload", "echo-client.default", "--xds-address", m.cp.xds))

	t.Run("header match", func(t *testing.T) { testHeaderMatch(t, m) })
	t.Run("gRPC method match", func(t *testing.T) { testMethodMatch(t, m) })
	t.Run("weighted clusters 70/30", func(t *testing.T) { testWeights(t, m) })
	t.Run("timeout", func(t *testing.T) { testTimeout(t, m) })
	t.Run("retries on gRPC codes", func(t *testing.T) { testRetries(t, m) })
	t.Run("fault injection", func(t *testing.T) { testFaults(t, m) })
	t.Run("ring hash by header", func(t *testing.T) { testRingHash(t, m) })
}

func testHeaderMatch(t *testing.T, m *trafficMesh) {
	m.apply(t, "route-header", `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: default}
spec:
  service: echo
  rules:
    - name: canary
      matches: [{headers: [{name: x-canary, exact: "true"}]}]
      backends: [{subset: {version: v2}}]
    - name: stable
      backends: [{subset: {version: v1}}]
`)
	awaitBehaviour(t, "x-canary calls on v2", func() (bool, trafficReport) {
		r := m.call(t, "echo", "--count", "20", "--header", "x-canary=true")
		return r.ByBackend["v2"] == 20, r
	})
	canary := m.call(t, "echo", "--count", "200", "--header", "x-canary=true")
	plain := m.call(t, "echo", "--count", "200")
	other := m.call(t, "echo", "--count", "200", "--header", "x-canary=false")
	t.Logf("x-canary=true: %v; no header: %v; x-canary=false: %v", canary.ByBackend, plain.ByBackend, other.ByBackend)
	if canary.ByBackend["v2"] != 200 || canary.Errors != 0 {
		t.Errorf("x-canary=true: want 200 calls on v2, got %s", canary)
	}
	if plain.ByBackend["v1"] != 200 || plain.Errors != 0 {
		t.Errorf("no header: want 200 calls on v1, got %s", plain)
	}
	if other.ByBackend["v1"] != 200 || other.Errors != 0 {
		t.Errorf("x-canary=false: want 200 calls on v1, got %s", other)
	}
}

func testMethodMatch(t *testing.T, m *trafficMesh) {
	m.apply(t, "route-method", `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: default}
spec:
  service: echo
  rules:
    - name: other
      matches: [{grpc: {service: embassy.demo.Echo, method: Other}}]
      backends: [{subset: {version: v2}}]
    - name: call
      matches: [{path: {exact: /embassy.demo.Echo/Call}}]
      backends: [{subset: {version: v1}}]
`)
	awaitBehaviour(t, "Other on v2", func() (bool, trafficReport) {
		r := m.call(t, "echo", "--count", "20", "--method", "Other")
		return r.ByBackend["v2"] == 20, r
	})
	other := m.call(t, "echo", "--count", "200", "--method", "Other")
	call := m.call(t, "echo", "--count", "200", "--method", "Call")
	// A header that routed to v2 before no longer matters.
	callCanary := m.call(t, "echo", "--count", "50", "--method", "Call", "--header", "x-canary=true")
	t.Logf("Other: %v; Call: %v; Call with x-canary: %v", other.ByBackend, call.ByBackend, callCanary.ByBackend)
	if other.ByBackend["v2"] != 200 || other.Errors != 0 {
		t.Errorf("Other: want 200 calls on v2, got %s", other)
	}
	if call.ByBackend["v1"] != 200 || call.Errors != 0 {
		t.Errorf("Call: want 200 calls on v1, got %s", call)
	}
	if callCanary.ByBackend["v1"] != 50 {
		t.Errorf("Call with x-canary under the method Route: want 50 calls on v1, got %s", callCanary)
	}
}

func testWeights(t *testing.T, m *trafficMesh) {
	m.apply(t, "route-weights", `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: default}
spec:
  service: echo
  rules:
    - backends:
        - {subset: {version: v1}, weight: 70}
        - {subset: {version: v2}, weight: 30}
`)
	// Under the method Route, Other went only to v2.
	awaitBehaviour(t, "Other split over v1 and v2", func() (bool, trafficReport) {
		r := m.call(t, "echo", "--count", "40", "--method", "Other")
		return r.ByBackend["v1"] > 0 && r.ByBackend["v2"] > 0, r
	})
	r := m.call(t, "echo", "--count", "1000", "--concurrency", "8")
	t.Logf("1000 calls: %v", r.ByBackend)
	if r.Errors != 0 || r.Total != 1000 {
		t.Fatalf("want 1000 calls without errors, got %s", r)
	}
	// 70% ± 5 points.
	if v1 := r.ByBackend["v1"]; v1 < 650 || v1 > 750 || v1+r.ByBackend["v2"] != 1000 {
		t.Errorf("v1 got %d of 1000 calls, want 700±50: %s", v1, r)
	}
}

func testTimeout(t *testing.T, m *trafficMesh) {
	m.apply(t, "route-timeout", `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: slow, namespace: default}
spec:
  service: slow
  rules:
    - backends: [{service: slow}]
      timeout: 200ms
`)
	// The server answers after 1s; the client's own deadline is 5s, so
	// only the Route can end calls sooner.
	args := []string{"--count", "10", "--concurrency", "5", "--timeout", "5s", "--ready-any"}
	var r trafficReport
	awaitBehaviour(t, "calls to slow cut at the Route's timeout", func() (bool, trafficReport) {
		r = m.call(t, "slow", args...)
		return r.ByCode["DEADLINE_EXCEEDED"] == 10, r
	})
	r = m.call(t, "slow", args...)
	t.Logf("10 calls with timeout 200ms to a server answering after 1s: %v, p50 %.1fms, max %.1fms", r.ByCode, r.P50MS, r.MaxMS)
	if r.ByCode["DEADLINE_EXCEEDED"] != 10 {
		t.Errorf("want 10 DEADLINE_EXCEEDED, got %s", r)
	}
	if r.P50MS < 150 || r.MaxMS >= 800 {
		t.Errorf("calls ended after p50 %.1fms, max %.1fms; want about 200ms (≥150, <800)", r.P50MS, r.MaxMS)
	}
}

func testRetries(t *testing.T, m *trafficMesh) {
	// The server fails every other attempt, and calls go one at a time,
	// so without retries half of them fail.
	before := m.served(t, "flaky")
	without := m.call(t, "flaky", "--count", "100", "--concurrency", "1")
	attemptsWithout := m.served(t, "flaky") - before
	t.Logf("without retries: %v over %d attempts", without.ByCode, attemptsWithout)
	if u := without.ByCode["UNAVAILABLE"]; u < 40 || u > 60 {
		t.Fatalf("without retries want about 50 of 100 calls UNAVAILABLE, got %s", without)
	}

	m.apply(t, "route-retries", `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: flaky, namespace: default}
spec:
  service: flaky
  rules:
    - backends: [{service: flaky}]
      retries:
        attempts: 2
        retryOn: [unavailable]
`)
	awaitBehaviour(t, "no failed calls to flaky", func() (bool, trafficReport) {
		r := m.call(t, "flaky", "--count", "20", "--concurrency", "1")
		return r.Errors == 0, r
	})
	before = m.served(t, "flaky")
	with := m.call(t, "flaky", "--count", "100", "--concurrency", "1")
	attempts := m.served(t, "flaky") - before
	t.Logf("with retries: %v over %d attempts (readiness call included)", with.ByCode, attempts)
	if with.Errors != 0 || with.ByCode["OK"] != 100 {
		t.Errorf("with retries want 100 calls OK, got %s", with)
	}
	// One call at a time: each call's first attempt follows an answered
	// one, so it fails and its retry is answered. Two attempts per call is
	// what proves the retries happened (the readiness call adds its own).
	if attempts < 200 || attempts > 202 {
		t.Errorf("the server saw %d attempts for 100 calls and a readiness call, want 200 to 202", attempts)
	}
}

func testFaults(t *testing.T, m *trafficMesh) {
	fault := func(t *testing.T, name, spec string) {
		m.apply(t, "route-fault-"+name, `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: fault, namespace: default}
spec:
  service: fault
  rules:
    - backends: [{service: fault}]
      fault:
`+spec)
	}

	t.Run("abort 100%", func(t *testing.T) {
		fault(t, "abort-100", `        abort: {grpcStatus: UNAVAILABLE, percent: 100}
`)
		awaitBehaviour(t, "every call aborted", func() (bool, trafficReport) {
			r := m.call(t, "fault", "--count", "20", "--ready-any")
			return r.ByCode["UNAVAILABLE"] == 20, r
		})
		before := m.served(t, "fault")
		r := m.call(t, "fault", "--count", "100", "--ready-any")
		reached := m.served(t, "fault") - before
		t.Logf("abort 100%%: %v; attempts that reached the server: %d", r.ByCode, reached)
		if r.ByCode["UNAVAILABLE"] != 100 {
			t.Errorf("want 100 UNAVAILABLE, got %s", r)
		}
		if reached != 0 {
			t.Errorf("%d aborted calls reached the server", reached)
		}
	})

	t.Run("abort limited by header", func(t *testing.T) {
		fault(t, "header", `        abort: {grpcStatus: UNAVAILABLE, percent: 100}
        headers: [{name: x-fault, exact: abort}]
`)
		// The previous rule aborts every call, so only a call without the
		// header that is answered shows this rule is in force.
		awaitBehaviour(t, "calls with x-fault aborted and fast, a call without it answered", func() (bool, trafficReport) {
			r := m.call(t, "fault", "--count", "20", "--concurrency", "4", "--ready-any", "--header", "x-fault=abort")
			if r.ByCode["UNAVAILABLE"] != 20 || r.MaxMS >= 300 {
				return false, r
			}
			r = m.call(t, "fault", "--count", "1", "--ready-any")
			return r.ByCode["OK"] == 1, r
		})
		before := m.served(t, "fault")
		hit := m.call(t, "fault", "--count", "100", "--concurrency", "4", "--ready-any", "--header", "x-fault=abort")
		reachedHit := m.served(t, "fault") - before
		before = m.served(t, "fault")
		miss := m.call(t, "fault", "--count", "100", "--concurrency", "4", "--ready-any")
		other := m.call(t, "fault", "--count", "100", "--concurrency", "4", "--ready-any", "--header", "x-fault=other")
		reachedMiss := m.served(t, "fault") - before
		t.Logf("x-fault=abort: %v (%d reached the server); no header: %v; x-fault=other: %v (%d reached the server)",
			hit.ByCode, reachedHit, miss.ByCode, other.ByCode, reachedMiss)
		if hit.ByCode["UNAVAILABLE"] != 100 || reachedHit != 0 {
			t.Errorf("with x-fault=abort want 100 UNAVAILABLE and none reaching the server, got %s and %d", hit, reachedHit)
		}
		if miss.ByCode["OK"] != 100 || other.ByCode["OK"] != 100 {
			t.Errorf("without the header want every call OK: no header %s; x-fault=other %s", miss, other)
		}
		if reachedMiss != 202 {
			t.Errorf("without the header the server saw %d attempts, want 202 (200 calls, 2 readiness)", reachedMiss)
		}
	})

	t.Run("abort 50%", func(t *testing.T) {
		fault(t, "abort-50", `        abort: {grpcStatus: UNAVAILABLE, percent: 50}
`)
		// The previous rule answers every call without the header, so
		// only a mix of answers and aborts shows the 50% rule is in force
		// (all 20 alike at 50% has odds of 2 in a million).
		awaitBehaviour(t, "some calls answered and some aborted", func() (bool, trafficReport) {
			r := m.call(t, "fault", "--count", "20", "--ready-any")
			return r.ByCode["OK"] > 0 && r.ByCode["UNAVAILABLE"] > 0, r
		})
		before := m.served(t, "fault")
		r := m.call(t, "fault", "--count", "400", "--concurrency", "8", "--ready-any")
		reached := m.served(t, "fault") - before
		t.Logf("abort 50%% over 400 calls: %v; attempts that reached the server: %d", r.ByCode, reached)
		// 50% ± 10 points.
		if u := r.ByCode["UNAVAILABLE"]; u < 160 || u > 240 || u+r.ByCode["OK"] != 400 {
			t.Errorf("want 200±40 of 400 calls UNAVAILABLE, the rest OK; got %s", r)
		}
		// Only answered calls reached the server (the readiness call may be one).
		if ok := uint64(r.ByCode["OK"]); reached < ok || reached > ok+1 {
			t.Errorf("the server saw %d attempts for %d answered calls", reached, ok)
		}
	})

	t.Run("delay 300ms", func(t *testing.T) {
		fault(t, "delay", `        delay: {fixed: 300ms, percent: 100}
`)
		var r trafficReport
		awaitBehaviour(t, "calls delayed", func() (bool, trafficReport) {
			r = m.call(t, "fault", "--count", "10", "--concurrency", "10")
			return r.P50MS >= 300, r
		})
		r = m.call(t, "fault", "--count", "20", "--concurrency", "10")
		t.Logf("delay 300ms: %v, p50 %.1fms, p99 %.1fms", r.ByCode, r.P50MS, r.P99MS)
		if r.ByCode["OK"] != 20 || r.P50MS < 300 {
			t.Errorf("want 20 calls OK with p50 ≥ 300ms, got %s", r)
		}
	})

}

func testRingHash(t *testing.T, m *trafficMesh) {
	m.apply(t, "policy-hash", `apiVersion: embassy.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: hash, namespace: default}
spec:
  service: hash
  loadBalancer: {policy: RING_HASH, hashHeader: x-user}
`)
	user := func(i int) trafficReport {
		return m.call(t, "hash", "--count", "12", "--concurrency", "3", "--header", fmt.Sprintf("x-user=user-%d", i))
	}
	// Round robin over three backends spreads 12 calls over all of them.
	awaitBehaviour(t, "one user's calls on one backend", func() (bool, trafficReport) {
		r := user(0)
		return r.onlyBackend() != "", r
	})
	const users = 20
	got := make([]trafficReport, users)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			got[i] = user(i)
		})
	}
	wg.Wait()
	perBackend := map[string]int{}
	for i, r := range got {
		b := r.onlyBackend()
		if b == "" || r.Errors != 0 {
			t.Errorf("user-%d: want all 12 calls on one backend, got %s", i, r)
			continue
		}
		perBackend[b]++
	}
	t.Logf("%d users over the backends: %v", users, perBackend)
	if len(perBackend) < 2 {
		t.Errorf("all %d users hash to one backend: %v", users, perBackend)
	}
	// The same user still lands where it did.
	if again := user(7).onlyBackend(); again != got[7].onlyBackend() {
		t.Errorf("user-7 moved from %q to %q", got[7].onlyBackend(), again)
	}
}
