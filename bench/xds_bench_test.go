package bench

import (
	"context"
	"testing"
	"time"
)

// benchSize is the mesh of the testing.B benchmarks: small enough to set
// up in a few seconds, big enough that a push is not trivial.
var benchSize = MeshSize{Services: 200, EndpointsPerService: 5, RouteEvery: 10}

const benchProxies = 50

// benchPhase starts a control plane and connects in-process proxies.
func benchPhase(tb testing.TB, cfg Config, s Server, mode Mode) *Phase {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ConnectTimeout+30*time.Second)
	defer cancel()
	ph, err := StartPhase(ctx, cfg, s, mode)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := ph.Close(); err != nil {
			tb.Errorf("closing: %v", err)
		}
	})
	return ph
}

func benchConfig(proxies int, size MeshSize, debounce time.Duration) Config {
	return Config{
		Proxies: proxies, Mesh: size, Debounce: debounce, ViaApply: true,
		Conns: 4, Window: 50,
		ConnectTimeout: time.Minute, ChangeTimeout: 30 * time.Second,
	}
}

// benchmarkPushEndpoints measures one endpoint change, from the store
// commit until every proxy has received and ACKed the new
// ClusterLoadAssignment: that is ns/op. The debounce is the smallest the control plane
// takes, so the time is mostly the push's own.
func benchmarkPushEndpoints(b *testing.B, s Server, mode Mode) {
	ph := benchPhase(b, benchConfig(benchProxies, benchSize, time.Millisecond), s, mode)
	ctx := context.Background()
	var bytes, responses int64
	var maxLat time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Only the push is timed: arming the proxies and waiting for the
		// server to go quiet before counting bytes are not.
		b.StopTimer()
		m, err := ph.Arm(ctx, benchSize.EndpointChange(i+1))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := m.Push(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		row, err := m.Settle(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		bytes += row.Bytes
		responses += row.Responses
		maxLat = max(maxLat, row.Max)
	}
	b.StopTimer()
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/push")
	b.ReportMetric(float64(bytes)/float64(b.N)/benchProxies, "bytes/proxy")
	b.ReportMetric(float64(responses)/float64(b.N), "responses/push")
	b.ReportMetric(float64(maxLat.Milliseconds()), "max-ms")
}

// BenchmarkPushEndpointsSotW pushes an endpoint change to state-of-the-world
// proxies.
func BenchmarkPushEndpointsSotW(b *testing.B) { benchmarkPushEndpoints(b, Embassy, SotW) }

// BenchmarkPushEndpointsDelta pushes an endpoint change to Delta proxies.
func BenchmarkPushEndpointsDelta(b *testing.B) { benchmarkPushEndpoints(b, Embassy, Delta) }

// BenchmarkPushEndpointsBaselineSotW pushes the same change from the bare
// go-control-plane server to state-of-the-world proxies.
func BenchmarkPushEndpointsBaselineSotW(b *testing.B) { benchmarkPushEndpoints(b, Baseline, SotW) }

// BenchmarkPushEndpointsBaselineDelta pushes the same change from the bare
// go-control-plane server to Delta proxies.
func BenchmarkPushEndpointsBaselineDelta(b *testing.B) { benchmarkPushEndpoints(b, Baseline, Delta) }
