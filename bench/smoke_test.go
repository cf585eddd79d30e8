package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs the whole harness at a tiny size against both
// servers: every proxy must see and ACK both changes on each, every figure
// of the summary must be there and non-zero for both, and the baseline,
// which resends every requested resource, must send SotW proxies more
// for an endpoint change than Delta ones.
func TestBenchSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := benchConfig(5, MeshSize{Services: 20, EndpointsPerService: 5, RouteEvery: 10}, 20*time.Millisecond)
	cfg.ConnectTimeout, cfg.ChangeTimeout = 10*time.Second, 5*time.Second
	cfg.Modes = []Mode{SotW, Delta}
	cfg.Servers = []Server{Embassy, Baseline}
	results, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 {
		t.Fatalf("got %d phases, want 4", len(results))
	}
	endpointBytes := map[point]int64{}
	for _, ph := range results {
		if len(ph.Rows) != 2 {
			t.Fatalf("%s %s: got %d rows, want 2", ph.Server, ph.Mode, len(ph.Rows))
		}
		if ph.Nacks != 0 {
			t.Errorf("%s %s: %d NACKs", ph.Server, ph.Mode, ph.Nacks)
		}
		if ph.Connect <= 0 || ph.ConnectBytes <= 0 {
			t.Errorf("%s %s: configured in %v with %d bytes", ph.Server, ph.Mode, ph.Connect, ph.ConnectBytes)
		}
		for _, r := range ph.Rows {
			if r.Observed != cfg.Proxies || r.Acked != cfg.Proxies {
				t.Errorf("%s %s %s: %d proxies saw the change and the server shows %d ACKs; want %d", ph.Server, ph.Mode, r.Change, r.Observed, r.Acked, cfg.Proxies)
			}
			if r.Bytes <= 0 || r.Max <= 0 || r.P50 > r.P99 || r.P99 > r.Max {
				t.Errorf("%s %s %s: implausible row %+v", ph.Server, ph.Mode, r.Change, r)
			}
			if r.Change == "endpoints" {
				endpointBytes[pointOf(ph)] = r.Bytes
			}
		}
	}
	base := point{cfg.Proxies, cfg.Mesh.Services, Baseline, SotW}
	baseDelta := base
	baseDelta.mode = Delta
	if endpointBytes[baseDelta] >= endpointBytes[base] {
		t.Errorf("the baseline sent %d bytes for an endpoint change over Delta and %d over SotW; want Delta smaller", endpointBytes[baseDelta], endpointBytes[base])
	}
	for _, pt := range points(results) {
		vs, n := medians(results, pt)
		for k, f := range figures {
			if n[k] != 1 || vs[k] == 0 {
				t.Errorf("%s %s: %s has %d values, median %v", pt.server, pt.mode, f.name, n[k], vs[k])
			}
		}
	}
	var out bytes.Buffer
	if err := WriteTable(&out, results); err != nil {
		t.Fatal(err)
	}
	if err := WriteSummary(&out, results); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "embassy/baseline") || strings.Count(out.String(), "\n") < 20 {
		t.Errorf("table:\n%s", out.String())
	}
	var sweep bytes.Buffer
	if err := WriteSweep(&sweep, results); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(sweep.String(), "\n"); n != 1+len(points(results)) || strings.Contains(sweep.String(), " - ") {
		t.Errorf("sweep table, want a header and a full row per point:\n%s", sweep.String())
	}
	t.Logf("\n%s", out.String())
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p50, p99, mx := percentiles(ds)
	if p50 != 50*time.Millisecond || p99 != 99*time.Millisecond || mx != 100*time.Millisecond {
		t.Errorf("percentiles = %v %v %v", p50, p99, mx)
	}
	if a, b, c := percentiles(nil); a != 0 || b != 0 || c != 0 {
		t.Errorf("percentiles(nil) = %v %v %v", a, b, c)
	}
}

func TestDiffSorted(t *testing.T) {
	add, drop := diffSorted([]string{"a", "b", "d"}, []string{"b", "c", "d", "e"})
	if strings.Join(add, ",") != "c,e" || strings.Join(drop, ",") != "a" {
		t.Errorf("added %v, removed %v", add, drop)
	}
}

func TestResourceName(t *testing.T) {
	// A ClusterLoadAssignment with cluster_name (field 1) after an
	// unrelated field 2.
	b := []byte{0x12, 0x00, 0x0a, 0x03, 'a', 'b', 'c'}
	if n, err := resourceName(b); err != nil || n != "abc" {
		t.Errorf("resourceName = %q, %v", n, err)
	}
	if _, err := resourceName([]byte{0x12, 0x00}); err == nil {
		t.Error("no error for a resource without a name")
	}
}
