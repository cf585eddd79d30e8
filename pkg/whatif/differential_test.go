package whatif_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"testing"

	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/whatif"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/xds/translate"
)

// TestWhatIfAgreesWithTranslation proves the what-if route answer against
// the configuration it describes: for every translator golden input, every
// HTTP-family service port and one request built from each match of each
// rule (plus one that no match is written for), the clusters and weights
// whatif names are those the sidecar's outbound RouteConfiguration and the
// proxyless RouteConfiguration route the request to, and the endpoint count
// it gives each cluster is the translated ClusterLoadAssignment's.
func TestWhatIfAgreesWithTranslation(t *testing.T) {
	files, err := filepath.Glob("../../xds/translate/testdata/in/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no translator golden inputs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			snap := mesh.New(1, meshtest.Decode(t, f, data))
			envoy, _ := translate.Outbound(snap)
			proxyless, _ := translate.ProxylessClient(snap)
			eps := endpointCounts(envoy.Endpoints)
			checked := 0
			for _, svc := range snap.Services {
				for _, port := range svc.Spec.Ports {
					if port.Protocol == resource.ProtocolTCP {
						continue
					}
					host := svc.Ref.String() + ":" + strconv.FormatUint(uint64(port.Port), 10)
					flavours := map[string]*route.VirtualHost{
						"envoy":     virtualHost(t, envoy.Routes, host),
						"proxyless": virtualHost(t, proxyless.Routes, host),
					}
					for _, q := range queriesFor(snap, svc, port.Port) {
						q.To = host
						checkQuery(t, snap, q, flavours, eps)
						checked++
					}
				}
			}
			if checked == 0 && len(snap.Routes) > 0 {
				t.Fatalf("%s: no request was checked", f)
			}
		})
	}
}

// checkQuery compares whatif's answer for q with each flavour's routing.
func checkQuery(t *testing.T, snap *mesh.Snapshot, q whatif.Query, flavours map[string]*route.VirtualHost, eps map[string]int) {
	t.Helper()
	a, err := whatif.Check(context.Background(), snap, q, whatif.Options{Decide: allowAll})
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	var got []split
	if a.Route != nil {
		for _, b := range a.Route.Backends {
			got = append(got, split{Cluster: b.Cluster, Weight: uint32(b.Weight)})
			if want, ok := eps[b.Cluster]; !ok || b.Endpoints != want {
				t.Errorf("%s %s %s: whatif counts %d endpoints in %s; the translated assignment has %d (served: %v)", q.Method, q.To, q.Path, b.Endpoints, b.Cluster, want, ok)
			}
		}
	}
	got = normalise(got)
	for name, vh := range flavours {
		want := normalise(routeOf(vh, newRequest(q)))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s%s headers %v: whatif says %v (route %v); the %s RouteConfiguration routes to %v", q.Method, q.To, q.Path, q.Headers, got, routeName(a.Route), name, want)
		}
	}
}

func routeName(c *whatif.RouteChoice) string {
	if c == nil {
		return "none"
	}
	return c.Name
}

// split is one cluster a request may reach and its weight.
type split struct {
	Cluster string
	Weight  uint32
}

func (s split) String() string { return fmt.Sprintf("%s=%d", s.Cluster, s.Weight) }

// normalise sorts splits and drops the weight of a lone cluster: the
// translator writes a single backend as a plain cluster, whatever weight
// the rule gave it.
func normalise(ss []split) []split {
	if len(ss) == 1 {
		return []split{{Cluster: ss[0].Cluster}}
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].Cluster < ss[j].Cluster })
	return ss
}

// queriesFor builds one request per match of every rule applying to the
// port, and one for which no match was written.
func queriesFor(snap *mesh.Snapshot, svc *mesh.Service, port uint32) []whatif.Query {
	qs := []whatif.Query{{Method: "PATCH", Path: "/no/rule/was/written/for/this", Headers: map[string]string{}}}
	for _, r := range snap.RoutesFor(svc.Ref) {
		if r.Spec.Port != 0 && r.Spec.Port != port {
			continue
		}
		for _, rule := range r.Spec.Rules {
			for _, m := range rule.Matches {
				qs = append(qs, queryFor(m))
			}
		}
	}
	return qs
}

// queryFor builds a request the match takes.
func queryFor(m resource.RouteMatch) whatif.Query {
	q := whatif.Query{Method: "GET", Path: "/", Headers: map[string]string{}}
	switch {
	case m.GRPC != nil && m.GRPC.Method != "":
		q.Method, q.Path = "POST", "/"+m.GRPC.Service+"/"+m.GRPC.Method
	case m.GRPC != nil:
		q.Method, q.Path = "POST", "/"+m.GRPC.Service+"/Any"
	case m.Path != nil && m.Path.Exact != "":
		q.Path = m.Path.Exact
	case m.Path != nil && m.Path.Prefix != "":
		q.Path = m.Path.Prefix
	case m.Path != nil && m.Path.Regex != "":
		q.Path = sampleOf(m.Path.Regex)
	}
	if m.Method != "" {
		q.Method = m.Method
	}
	for _, h := range m.Headers {
		if v, ok := headerValue(h); ok {
			q.Headers[h.Name] = v
		}
	}
	sep := "?"
	for _, p := range m.QueryParams {
		v := p.Exact
		if p.Regex != "" {
			v = sampleOf(p.Regex)
		}
		q.Path += sep + p.Name + "=" + v
		sep = "&"
	}
	return q
}

// headerValue is a value the header match takes, or false when it takes
// the header's absence.
func headerValue(h resource.HeaderMatch) (string, bool) {
	v := "present"
	switch {
	case h.Exact != "":
		v = h.Exact
	case h.Prefix != "":
		v = h.Prefix
	case h.Suffix != "":
		v = h.Suffix
	case h.Regex != "":
		v = sampleOf(h.Regex)
	case h.Absent:
		return v, h.Invert
	default:
		return v, !h.Invert
	}
	if h.Invert {
		v += "~not"
	}
	return v, true
}

// virtualHost is the one virtual host named host across rcs.
func virtualHost(t *testing.T, rcs []*route.RouteConfiguration, host string) *route.VirtualHost {
	t.Helper()
	var found []*route.VirtualHost
	for _, rc := range rcs {
		for _, vh := range rc.GetVirtualHosts() {
			if vh.GetName() == host {
				found = append(found, vh)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d virtual hosts named %s, want 1", len(found), host)
	}
	return found[0]
}

// endpointCounts is the number of endpoints each assignment holds.
func endpointCounts(clas []*endpoint.ClusterLoadAssignment) map[string]int {
	out := map[string]int{}
	for _, cla := range clas {
		n := 0
		for _, l := range cla.GetEndpoints() {
			n += len(l.GetLbEndpoints())
		}
		out[cla.GetClusterName()] = n
	}
	return out
}

// allowAll stands in for the policy engine: this test is about routes.
func allowAll(_ context.Context, bundles []*compile.Bundle, _ map[string]any) ([]engine.Decision, error) {
	ds := make([]engine.Decision, len(bundles))
	for i := range ds {
		ds[i].Allowed = true
	}
	return ds, nil
}
