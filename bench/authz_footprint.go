package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/extauthz"
)

// AuthzFootprint is what a policy costs embassy beyond its Checks.
type AuthzFootprint struct {
	// JWTPolicyHeap and CallersPolicyHeap are the heap one loaded revision
	// of each policy holds (bundle and prepared query), averaged over
	// footprintPolicies loads.
	JWTPolicyHeap, CallersPolicyHeap int64
	// CacheEntryHeap is the heap per cached decision of the callers
	// policy, averaged over footprintEntries distinct requests.
	CacheEntryHeap int64
	// Baseline is a load on the callers policy with the cache on; Swapping
	// is the same load while its revision is swapped every swapEvery,
	// Swaps times, each Load taking SwapMean on average and SwapMax at
	// most (analysing the new revision for the cache and preparing it;
	// its cache starts empty).
	Baseline, Swapping AuthzRow
	Swaps              int
	SwapMean, SwapMax  time.Duration
}

const (
	footprintPolicies = 20
	footprintEntries  = 2000
	swapEvery         = 10 * time.Millisecond
	maxSwaps          = 2000
)

func measureFootprint(ctx context.Context, cfg AuthzConfig, callers authzPolicyCase) (AuthzFootprint, error) {
	var f AuthzFootprint
	var err error
	if f.JWTPolicyHeap, err = heapPerPolicy(authzPolicy, authzData); err != nil {
		return f, err
	}
	if f.CallersPolicyHeap, err = heapPerPolicy(callersPolicy, callers.data); err != nil {
		return f, err
	}
	if f.CacheEntryHeap, err = heapPerCacheEntry(ctx, cfg.CacheSize, callers); err != nil {
		return f, err
	}
	err = measureSwaps(ctx, cfg, callers, &f)
	return f, err
}

func compileBench(policy string, data []byte) (*compile.Bundle, error) {
	return compile.Compile("bench/policy", &resource.AuthorizationPolicySpec{
		Modules: []resource.RegoModule{{Name: "policy.rego", Rego: policy}}, Data: data,
	})
}

func heapNow() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// heapPerPolicy loads footprintPolicies revisions of policy, as an agent
// targeted by that many policies would, and divides the heap they hold.
func heapPerPolicy(policy string, data []byte) (int64, error) {
	engines := make([]*engine.Engine, footprintPolicies)
	before := heapNow()
	for i := range engines {
		// Each its own revision, as distinct policies are.
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			return 0, err
		}
		doc["bench_policy"] = i
		raw, _ := json.Marshal(doc)
		b, err := compileBench(policy, raw)
		if err != nil {
			return 0, err
		}
		engines[i] = engine.New()
		if err := engines[i].Load(b); err != nil {
			return 0, err
		}
	}
	after := heapNow()
	runtime.KeepAlive(engines)
	return (after - before) / footprintPolicies, nil
}

// heapPerCacheEntry fills a cache with footprintEntries decisions of
// distinct requests and divides the heap they hold.
func heapPerCacheEntry(ctx context.Context, size int, callers authzPolicyCase) (int64, error) {
	srv, err := benchServer(callers, size)
	if err != nil {
		return 0, err
	}
	reqs := make([]*authv3.CheckRequest, footprintEntries)
	for i := range reqs {
		reqs[i] = checkRequest("GET", fmt.Sprintf("/api/items/%d", i), map[string]string{"x-request-id": fmt.Sprint(i)})
		reqs[i].Attributes.Source.Principal = callerID(i % callerCount)
	}
	if _, err := srv.Check(ctx, reqs[0]); err != nil {
		return 0, err
	}
	if err := waitCacheReady(func() (*extauthz.CacheStats, error) { return srv.CacheStats(), nil }); err != nil {
		return 0, err
	}
	before := heapNow()
	for _, r := range reqs[1:] {
		if _, err := srv.Check(ctx, r); err != nil {
			return 0, err
		}
	}
	after := heapNow()
	st := srv.CacheStats()
	if st == nil || st.Entries == 0 {
		return 0, fmt.Errorf("the cache holds nothing after %d distinct requests: %+v", footprintEntries, st)
	}
	runtime.KeepAlive(reqs)
	return (after - before) / int64(st.Entries), nil
}

// waitCacheReady waits, at most ten seconds, until stats say the cache
// has analysed its revision.
func waitCacheReady(stats func() (*extauthz.CacheStats, error)) error {
	for range 1000 {
		st, err := stats()
		if err != nil {
			return err
		}
		if st != nil && st.Ready {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("the decision cache did not analyse the policy within 10s")
}

// benchServer is an in-process Check server of pc, as the agent makes it.
func benchServer(pc authzPolicyCase, cacheSize int) (*extauthz.Server, error) {
	b, err := compileBench(pc.policy, pc.data)
	if err != nil {
		return nil, err
	}
	srv := extauthz.New(engine.New(), extauthz.Options{DecisionLog: agentDecisionLog(), CacheSize: cacheSize})
	return srv, srv.Load(b)
}

// measureSwaps loads the callers policy with the cache on, then does it
// again while swapping between two revisions that decide alike.
func measureSwaps(ctx context.Context, cfg AuthzConfig, callers authzPolicyCase, f *AuthzFootprint) error {
	revs, err := twoRevisions(callers)
	if err != nil {
		return err
	}
	srv, err := benchServer(callers, cfg.CacheSize)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() { srv.Stop(); <-served }()
	reqs := make([]*authv3.CheckRequest, len(callers.reqs))
	ref := make([]bool, len(callers.reqs))
	for i, r := range callers.reqs {
		reqs[i], ref[i] = r.req, r.want
	}
	open := checkDecider(lis.Addr().String(), reqs)
	clients := slices.Max(cfg.Clients)
	if f.Baseline, err = load(ctx, "baseline", clients, cfg.Calls, cfg.Duration, ref, open); err != nil {
		return err
	}
	done := make(chan struct{})
	swapped := make(chan struct{})
	go func() { defer close(swapped); swapUntil(done, srv, revs, f) }()
	f.Swapping, err = load(ctx, "swapping", clients, cfg.Calls, cfg.Duration, ref, open)
	close(done)
	<-swapped
	return err
}

// twoRevisions are two revisions of the callers policy that differ only
// in a data key no rule reads.
func twoRevisions(callers authzPolicyCase) ([]*compile.Bundle, error) {
	revs := make([]*compile.Bundle, 2)
	for i := range revs {
		var doc map[string]any
		if err := json.Unmarshal(callers.data, &doc); err != nil {
			return nil, err
		}
		doc["bench_revision"] = i
		raw, _ := json.Marshal(doc)
		b, err := compileBench(callersPolicy, raw)
		if err != nil {
			return nil, err
		}
		revs[i] = b
	}
	return revs, nil
}

// swapUntil loads revs in turn every swapEvery, at most maxSwaps times,
// until done, timing each Load into f; it loads as the agent does,
// through the Check server, which analyses each revision for its cache
// before it decides.
func swapUntil(done <-chan struct{}, srv *extauthz.Server, revs []*compile.Bundle, f *AuthzFootprint) {
	var total time.Duration
	defer func() {
		if f.Swaps > 0 {
			f.SwapMean = total / time.Duration(f.Swaps)
		}
	}()
	for f.Swaps < maxSwaps {
		select {
		case <-done:
			return
		case <-time.After(swapEvery):
		}
		t0 := time.Now()
		if err := srv.Load(revs[f.Swaps%2]); err != nil {
			return
		}
		d := time.Since(t0)
		total += d
		f.SwapMax = max(f.SwapMax, d)
		f.Swaps++
	}
}
