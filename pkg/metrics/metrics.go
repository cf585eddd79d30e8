// Package metrics holds embassy-cp's Prometheus metrics, in a registry of
// their own (never the global default one), so every control plane in a
// process, and every test, counts apart.
package metrics

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/status"
)

// namespace prefixes every metric name.
const namespace = "embassy"

// Options are the sources the metrics read at scrape time; each may be
// nil.
type Options struct {
	// Proxies lists the connected proxies, for the gauge by flavour.
	Proxies func() []status.Proxy
	// PendingUpdates is the debounce queue's depth.
	PendingUpdates func() int
	// Roots lists the CA's roots, for the seconds-to-expiry gauge.
	Roots func() []identity.RootInfo
	// Now defaults to time.Now.
	Now func() time.Time
}

// Metrics are the control plane's metrics. A nil *Metrics counts nothing,
// so it can be handed to code whose metrics are optional.
type Metrics struct {
	reg          *prometheus.Registry
	pushes       *prometheus.CounterVec
	pushDuration *prometheus.HistogramVec
	snapshotPush prometheus.Histogram
	nacks        *prometheus.CounterVec
	// AuthzDecisions counts authorization decisions by policy and decision
	// (allow, deny, would-deny, error: the outcomes of the agents' decision
	// logs), as the agents report them; see AuthzDecided.
	AuthzDecisions *prometheus.CounterVec
}

// New builds the metrics and their registry.
func New(o Options) *Metrics {
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "xds", Name: "pushes_total",
			Help: "xDS responses sent to proxies, by resource type.",
		}, []string{"type"}),
		pushDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "xds", Name: "push_duration_seconds",
			Help:    "Time from sending an xDS response to the proxy's ACK or NACK, by resource type.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"type"}),
		snapshotPush: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "xds", Name: "snapshot_push_duration_seconds",
			Help:    "Time to translate a mesh snapshot and hand it to every connected proxy's cache.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "xds", Name: "nacks_total",
			Help: "xDS responses rejected by proxies, by resource type.",
		}, []string{"type"}),
		AuthzDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "authz", Name: "decisions_total",
			Help: "Authorization decisions, by policy and decision.",
		}, []string{"policy", "decision"}),
	}
	m.reg.MustRegister(m.pushes, m.pushDuration, m.snapshotPush, m.nacks, m.AuthzDecisions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The served types start at zero, so a rate() sees the first one.
	for _, t := range servedTypes {
		m.pushes.WithLabelValues(t)
		m.nacks.WithLabelValues(t)
	}
	if o.PendingUpdates != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "xds", Name: "debounce_pending_updates",
			Help: "Mesh updates waiting in the debounce queue for the next push.",
		}, func() float64 { return float64(o.PendingUpdates()) }))
	}
	if o.Proxies != nil {
		m.reg.MustRegister(&proxiesCollector{list: o.Proxies})
	}
	if o.Roots != nil {
		m.reg.MustRegister(&rootsCollector{roots: o.Roots, now: o.Now})
	}
	return m
}

// Registry is the metrics' own registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ResponseSent counts one xDS response of typeURL.
func (m *Metrics) ResponseSent(typeURL string) {
	if m == nil {
		return
	}
	m.pushes.WithLabelValues(ShortType(typeURL)).Inc()
}

// Answered records a proxy's ACK or NACK, took after the response.
func (m *Metrics) Answered(typeURL string, took time.Duration, nacked bool) {
	if m == nil {
		return
	}
	t := ShortType(typeURL)
	m.pushDuration.WithLabelValues(t).Observe(took.Seconds())
	if nacked {
		m.nacks.WithLabelValues(t).Inc()
	}
}

// AuthzDecided adds decisions of policy ("<namespace>/<name>") that an
// agent reported since its previous report.
func (m *Metrics) AuthzDecided(policy string, allow, deny, wouldDeny, errs uint64) {
	if m == nil {
		return
	}
	for _, d := range []struct {
		decision string
		n        uint64
	}{{"allow", allow}, {"deny", deny}, {"would-deny", wouldDeny}, {"error", errs}} {
		if d.n > 0 {
			m.AuthzDecisions.WithLabelValues(policy, d.decision).Add(float64(d.n))
		}
	}
}

// Pushed records one mesh snapshot push.
func (m *Metrics) Pushed(took time.Duration) {
	if m == nil {
		return
	}
	m.snapshotPush.Observe(took.Seconds())
}

// servedTypes are the short names of the xDS types the server fills.
var servedTypes = []string{"Listener", "RouteConfiguration", "Cluster", "ClusterLoadAssignment", "Secret"}

// ShortType is the message name of an xDS type URL ("Cluster" for
// type.googleapis.com/envoy.config.cluster.v3.Cluster), a label value of
// low cardinality.
func ShortType(typeURL string) string {
	return typeURL[strings.LastIndex(typeURL, ".")+1:]
}

// proxiesCollector reports connected proxies by flavour and xDS variant
// at scrape time, so the gauge can never drift from the tracker.
type proxiesCollector struct {
	list func() []status.Proxy
}

var proxiesDesc = prometheus.NewDesc(namespace+"_xds_connected_proxies",
	"Proxies connected over xDS, by flavour (envoy, proxyless) and xDS variant (sotw, delta).", []string{"flavour", "xds"}, nil)

func (c *proxiesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- proxiesDesc }

func (c *proxiesCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[[2]string]int{}
	for _, p := range c.list() {
		counts[[2]string{p.Flavour, p.XDS}]++
	}
	// Always report both variants, so a dashboard sees a zero rather than a
	// gap when the last proxy leaves.
	for _, x := range []string{"sotw", "delta"} {
		for _, f := range []string{"envoy", "proxyless"} {
			if _, ok := counts[[2]string{f, x}]; !ok {
				counts[[2]string{f, x}] = 0
			}
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(proxiesDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

// rootsCollector reports each CA root's seconds to expiry.
type rootsCollector struct {
	roots func() []identity.RootInfo
	now   func() time.Time
}

var rootExpiryDesc = prometheus.NewDesc(namespace+"_ca_root_expiry_seconds",
	"Seconds until a CA root certificate expires, by SHA-256 fingerprint.", []string{"fingerprint", "active"}, nil)

func (c *rootsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- rootExpiryDesc }

func (c *rootsCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, r := range c.roots() {
		active := "false"
		if r.Active {
			active = "true"
		}
		ch <- prometheus.MustNewConstMetric(rootExpiryDesc, prometheus.GaugeValue, r.NotAfter.Sub(now).Seconds(), r.Fingerprint, active)
	}
}
