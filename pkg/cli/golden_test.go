package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/status"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/cli -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test ./pkg/cli -update rewrites it):\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// fixedNow is the clock of every golden table.
var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// plain, narrow and wide are a pipe, an 80- and a 120-column terminal.
var (
	plain  = TableOptions{Location: time.UTC}
	narrow = TableOptions{Width: 80, Location: time.UTC}
	wide   = TableOptions{Width: 120, Location: time.UTC}
)

// fixtureResources decodes testdata/resources.yaml: every kind, with a
// few cells longer than an 80-column terminal allows.
func fixtureResources(t *testing.T) map[resource.Kind][]*resource.Resource {
	t.Helper()
	rs, err := resource.DecodePath(filepath.Join("testdata", "resources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[resource.Kind][]*resource.Resource{}
	for _, r := range rs {
		out[r.Kind] = append(out[r.Kind], r)
	}
	return out
}

func TestGoldenGetTables(t *testing.T) {
	byKind := fixtureResources(t)
	for _, k := range resource.Kinds {
		if len(byKind[k]) == 0 {
			t.Fatalf("testdata/resources.yaml has no %s", k)
		}
		for _, c := range []struct {
			suffix string
			o      TableOptions
		}{{"", plain}, {"-80", narrow}, {"-120", wide}} {
			var b bytes.Buffer
			if err := PrintTableWith(&b, k, byKind[k], c.o); err != nil {
				t.Fatal(err)
			}
			checkFits(t, b.String(), c.o.Width)
			golden(t, "get-"+strings.ToLower(string(k))+c.suffix, b.String())
		}
	}
}

// checkFits fails when a line is wider than width (0: no limit).
func checkFits(t *testing.T, out string, width int) {
	t.Helper()
	if width == 0 {
		return
	}
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > width {
			t.Errorf("line is %d columns, wider than %d:\n%s", n, width, l)
		}
	}
}

func fixtureProxies() []status.Proxy {
	at := func(d time.Duration) time.Time { return fixedNow.Add(-d) }
	url := func(n string) string { return "type.googleapis.com/envoy.config." + n }
	return []status.Proxy{
		{ID: "echo-v1.default", Flavour: "envoy", XDS: "sotw", Types: map[string]status.TypeStatus{
			url("cluster.v3.Cluster"):                {VersionSent: "7", VersionAcked: "7", SentAt: at(time.Minute), AckedAt: at(time.Minute)},
			url("listener.v3.Listener"):              {VersionSent: "7", VersionAcked: "6", SentAt: at(time.Second), AckedAt: at(time.Hour), LastNack: &status.Nack{Version: "7", Time: at(time.Second), Message: "bad"}},
			url("endpoint.v3.ClusterLoadAssignment"): {VersionSent: "7", VersionAcked: "6", SentAt: at(time.Minute), AckedAt: at(time.Hour)},
			url("route.v3.RouteConfiguration"):       {VersionSent: "7", VersionAcked: "6", SentAt: at(time.Second), AckedAt: at(time.Hour)},
		}},
		{ID: "checkout-with-a-very-long-workload-name-for-the-canary-rollout.shop-production", Flavour: "grpc", XDS: "delta", Types: map[string]status.TypeStatus{
			url("listener.v3.Listener"): {VersionSent: "3", VersionAcked: "3", SentAt: at(time.Minute), AckedAt: at(time.Minute)},
		}},
		{ID: "echo-v1.default", Flavour: "agent", XDS: "sotw", Types: map[string]status.TypeStatus{
			url("core.v3.TypedExtensionConfig"): {VersionSent: "3a9f", VersionAcked: "3a9f", SentAt: at(time.Minute), AckedAt: at(time.Minute)},
		}},
	}
}

func TestGoldenProxyStatus(t *testing.T) {
	for _, c := range []struct {
		name string
		o    ProxyStatusOptions
	}{{"proxy-status", ProxyStatusOptions{}}, {"proxy-status-80", ProxyStatusOptions{Width: 80}}, {"proxy-status-colour", ProxyStatusOptions{Colour: true, Width: 120}}} {
		var b bytes.Buffer
		if err := PrintProxyStatusWith(&b, OutputTable, fixtureProxies(), fixedNow, c.o); err != nil {
			t.Fatal(err)
		}
		if !c.o.Colour && strings.Contains(b.String(), "\x1b[") {
			t.Errorf("%s: colour escapes without Colour:\n%q", c.name, b.String())
		}
		if c.o.Colour && !strings.Contains(b.String(), ansiRed+Nacked+ansiReset) {
			t.Errorf("%s: NACKED is not red:\n%q", c.name, b.String())
		}
		checkFits(t, stripANSI(b.String()), c.o.Width)
		golden(t, c.name, b.String())
	}
}

// stripANSI drops colour escapes, to measure what a terminal shows.
func stripANSI(s string) string {
	for _, code := range []string{ansiReset, ansiRed, ansiGreen, ansiYellow} {
		s = strings.ReplaceAll(s, code, "")
	}
	return s
}

func TestColourColumnsStayAligned(t *testing.T) {
	var plainOut, colourOut bytes.Buffer
	if err := PrintProxyStatusWith(&plainOut, OutputTable, fixtureProxies(), fixedNow, ProxyStatusOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := PrintProxyStatusWith(&colourOut, OutputTable, fixtureProxies(), fixedNow, ProxyStatusOptions{Colour: true}); err != nil {
		t.Fatal(err)
	}
	if stripANSI(colourOut.String()) != plainOut.String() {
		t.Fatalf("colour changed the layout:\n%s\nvs\n%s", stripANSI(colourOut.String()), plainOut.String())
	}
}

func TestGoldenStatus(t *testing.T) {
	st := &apiwire.StatusResponse{
		Version: "v0.4.0", UptimeSeconds: 3725, Store: apiwire.StoreStatus{Kind: "bbolt", Revision: 42},
		Counts:   apiwire.StatusCounts{Services: 3, Workloads: 5, ConnectedProxies: 4, Policies: 2},
		LastPush: &apiwire.PushStatus{Revision: 42, Time: fixedNow.Add(-time.Minute), DurationSeconds: 0.0031234, Proxies: 4},
		Roots: []apiwire.RootStatus{{RootInfo: identity.RootInfo{Fingerprint: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Active: true,
			NotAfter: fixedNow.Add(365 * 24 * time.Hour)}, SecondsToExpiry: 365 * 24 * 3600}},
	}
	var b bytes.Buffer
	if err := PrintStatus(&b, st, plain); err != nil {
		t.Fatal(err)
	}
	golden(t, "status", b.String())

	st.LastPush.Refused = []events.Refusal{{Proxies: []string{"reviews-1.default", "reviews-2.default"}, Since: 41,
		Inputs:   []string{"Route/default/reviews"},
		Problems: []events.Problem{{Resource: "RouteConfiguration outbound_http", Reason: "at .virtual_hosts[3].routes[0].retry_policy: [route.retry-backoff-order] max_interval must be greater than or equal to the base_interval"}}}}
	b.Reset()
	if err := PrintStatus(&b, st, plain); err != nil {
		t.Fatal(err)
	}
	golden(t, "status-refused", b.String())
}

func TestGoldenEvents(t *testing.T) {
	evs := []events.Event{
		{Seq: 1, Time: fixedNow, Kind: events.KindApply, Revision: 41, Resources: []string{"service/default/echo", "route/default/echo"}},
		{Seq: 2, Time: fixedNow.Add(time.Second), Kind: events.KindPush, Revision: 41, Proxies: 4, DurationSeconds: 0.0021},
		{Seq: 3, Time: fixedNow.Add(2 * time.Second), Kind: events.KindNack, Proxy: "echo-v1.default", Type: "type.googleapis.com/envoy.config.listener.v3.Listener",
			Message: "Error adding/updating listener(s) inbound_0.0.0.0_8080: Didn't find a registered implementation for 'envoy.filters.http.unknown'"},
		{Seq: 4, Time: fixedNow.Add(3 * time.Second), Kind: events.KindPolicy, Message: "policy default/echo-authz revision 3a9f loaded"},
	}
	for _, c := range []struct {
		name string
		o    TableOptions
	}{{"events", plain}, {"events-80", narrow}} {
		var b bytes.Buffer
		if err := PrintEvents(&b, evs, c.o); err != nil {
			t.Fatal(err)
		}
		checkFits(t, b.String(), c.o.Width)
		golden(t, c.name, b.String())
	}
}

// TestGoldenFleetEvents: events of replicas sharing an etcd store name
// their replica, and the kinds only they report name their proxy.
func TestGoldenFleetEvents(t *testing.T) {
	evs := []events.Event{
		{Seq: 7, Replica: "10.0.0.1:8080", Time: fixedNow, Kind: events.KindApply, Revision: 42, Resources: []string{"created Service/default/extra"}},
		{Seq: 3, Replica: "10.0.0.2:8080", Time: fixedNow.Add(time.Second), Kind: events.KindConnect, Proxy: "web-1.default", Message: "envoy proxy connected over sotw xDS"},
		{Seq: 4, Replica: "10.0.0.2:8080", Time: fixedNow.Add(2 * time.Second), Kind: events.KindAck, Revision: 42, Proxies: 12, DurationSeconds: 0.0183},
		{Seq: 5, Replica: "10.0.0.3:8080", Time: fixedNow.Add(3 * time.Second), Kind: events.KindDisconnect, Proxy: "web-2.default#agent", Message: "agent proxy left this replica"},
	}
	var b bytes.Buffer
	if err := PrintEvents(&b, evs, narrow); err != nil {
		t.Fatal(err)
	}
	checkFits(t, b.String(), narrow.Width)
	golden(t, "events-fleet-80", b.String())
}

func TestGoldenTokens(t *testing.T) {
	exp := fixedNow.Add(time.Hour)
	old := fixedNow.Add(-time.Hour)
	ts := []identity.TokenInfo{
		{ID: "3f2a9c0d1e4b5a6f", Namespace: "default", ServiceAccount: "echo", Workload: "echo-v1", Services: []string{"echo", "echo-admin"}, ExpiresAt: &exp, SingleUse: true},
		{ID: "77aa00bb11cc22dd", Namespace: "shop", ServiceAccount: "checkout", ExpiresAt: &old},
		{ID: "0123456789abcdef", Namespace: "shop", ServiceAccount: "payments", SingleUse: true, Uses: 1},
		{ID: "fedcba9876543210", Namespace: "shop", ServiceAccount: "reviews", Revoked: true, Uses: 3},
	}
	var b bytes.Buffer
	if err := PrintTokens(&b, ts, fixedNow, plain); err != nil {
		t.Fatal(err)
	}
	golden(t, "token-list", b.String())
}

func TestGoldenCerts(t *testing.T) {
	out := &apiwire.CertificatesResponse{
		TrustDomain: "embassy.local",
		Certificates: []apiwire.WorkloadCertificate{
			{Workload: "echo-v1", SPIFFEID: "spiffe://embassy.local/ns/default/sa/echo", Serial: "1a2b3c", NotAfter: fixedNow.Add(30 * time.Minute), IssuedAt: fixedNow.Add(-30 * time.Minute)},
			{SPIFFEID: "spiffe://embassy.local/ns/shop-production/sa/checkout-with-a-long-service-account", Serial: "4d5e6f7a8b9c0d1e2f", NotAfter: fixedNow.Add(time.Hour), IssuedAt: fixedNow},
		},
		Roots: []identity.RootInfo{
			{Fingerprint: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Subject: "O=Embassy,CN=embassy.local root 2", Active: true, NotAfter: fixedNow.Add(8760 * time.Hour)},
			{Fingerprint: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", Subject: "O=Embassy,CN=embassy.local root 1", NotAfter: fixedNow.Add(4380 * time.Hour), RetireAfter: fixedNow.Add(24 * time.Hour)},
		},
	}
	for _, c := range []struct {
		name string
		o    TableOptions
	}{{"certs", plain}, {"certs-120", wide}} {
		var b bytes.Buffer
		if err := PrintCerts(&b, out, fixedNow, c.o); err != nil {
			t.Fatal(err)
		}
		checkFits(t, b.String(), c.o.Width)
		golden(t, c.name, b.String())
	}
}

// With SPIRE as the CA, the roots are SPIRE's and say so.
func TestGoldenCertsSPIRE(t *testing.T) {
	out := &apiwire.CertificatesResponse{
		TrustDomain: "example.org",
		Certificates: []apiwire.WorkloadCertificate{
			{Workload: "web-1", SPIFFEID: "spiffe://example.org/ns/shop/sa/web", Serial: "77aa", NotAfter: fixedNow.Add(50 * time.Minute), IssuedAt: fixedNow.Add(-10 * time.Minute), Issuer: "the SPIRE agent at /run/spire/agent.sock"},
		},
		Roots: []identity.RootInfo{
			{Fingerprint: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", Subject: "C=US,O=SPIFFE", NotAfter: fixedNow.Add(24 * time.Hour), Source: "spire"},
		},
	}
	var b bytes.Buffer
	if err := PrintCerts(&b, out, fixedNow, plain); err != nil {
		t.Fatal(err)
	}
	golden(t, "certs-spire", b.String())
}

func TestGoldenPolicyList(t *testing.T) {
	res := &apiwire.PoliciesResponse{Revision: 9, Policies: []apiwire.PolicyStatus{
		{Namespace: "default", Name: "echo-authz", Revision: "3a9f", Compiled: true, Enforcement: apiwire.EnforcedByRBAC, Mode: "enforce",
			Workloads: []string{"default/echo-v1", "default/echo-v2"}, Proxies: []apiwire.PolicyProxy{{ID: "echo-v1.default", Current: true}, {ID: "echo-v2.default"}}},
		{Namespace: "shop", Name: "payments-callers", Revision: "b71c", Compiled: true, Enforcement: apiwire.EnforcedByExtAuthz, Mode: "dry-run",
			Workloads: []string{"shop/payments"}, Proxies: []apiwire.PolicyProxy{{ID: "payments.shop", Current: true}}},
		{Namespace: "shop", Name: "broken", Compiled: false, Error: "rego_parse_error", Mode: "enforce"},
	}}
	for _, c := range []struct {
		name string
		o    TableOptions
	}{{"policy-list", plain}, {"policy-list-colour", TableOptions{Colour: true, Location: time.UTC}}} {
		var b bytes.Buffer
		if err := PrintPolicies(&b, res, c.o); err != nil {
			t.Fatal(err)
		}
		golden(t, c.name, b.String())
	}
}

func TestTruncateAndFit(t *testing.T) {
	if got := truncate("checkout-v1", 8); got != "checkou…" || utf8.RuneCountInString(got) != 8 {
		t.Fatalf("truncate = %q", got)
	}
	if got := truncate("short", 8); got != "short" {
		t.Fatalf("truncate of a short cell = %q", got)
	}
	tb := &table{headers: []string{"A", "NAME"}, gap: 3, rows: [][]string{{"x", strings.Repeat("n", 200)}}}
	w := tb.fit(40)
	if w[0] != 1 || w[1] != 36 {
		t.Fatalf("fit(40) = %v, want [1 36]", w)
	}
	// No narrower than a column's floor, even when the limit cannot be met.
	tb = &table{headers: []string{"NAMESPACE", "NAME"}, gap: 3, rows: [][]string{{strings.Repeat("a", 50), strings.Repeat("b", 50)}}}
	if w := tb.fit(5); w[0] != 10 || w[1] != 10 {
		t.Fatalf("fit(5) = %v, want both at the floor of 10", w)
	}
}

func TestColourOnlyOnATerminalWithoutNoColor(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cases := []struct {
		tty  bool
		env  map[string]string
		want bool
	}{
		{true, nil, true},
		{false, nil, false},
		{true, map[string]string{"NO_COLOR": "1"}, false},
		{true, map[string]string{"TERM": "dumb"}, false},
		{false, map[string]string{"TERM": "xterm-256color"}, false},
	}
	for _, c := range cases {
		if got := wantsColour(c.tty, env(c.env)); got != c.want {
			t.Errorf("tty=%v env=%v: colour = %v, want %v", c.tty, c.env, got, c.want)
		}
	}
	var b bytes.Buffer
	if o := ForTerminal(&b); o.Colour || o.Width != 0 && os.Getenv("COLUMNS") == "" {
		t.Fatalf("a buffer is not a terminal: %+v", o)
	}
	if w := terminalWidth(&b, false, env(map[string]string{"COLUMNS": "100"})); w != 100 {
		t.Fatalf("COLUMNS=100 gave width %d", w)
	}
	if w := terminalWidth(&b, false, env(nil)); w != 0 {
		t.Fatalf("a pipe without COLUMNS gave width %d, want no limit", w)
	}
}
