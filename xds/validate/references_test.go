package validate_test

import (
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"

	"embassy.dev/embassy/xds/validate"
)

// References checks what a set built on a checked one adds: the reports
// and clusters of the added resources alone, looked up in the whole set.
func TestReferencesOfAnAddedSet(t *testing.T) {
	whole := map[string]bool{"Cluster/c1": true, "ClusterLoadAssignment/c1": true, "Cluster/c3": true}
	serves := func(kind, name string) bool { return whole[kind+"/"+name] }
	report := func(name, to string) *validate.Report {
		return validate.Resource("RouteConfiguration", name, routeTo(name, toCluster(to)), nil)
	}

	if err := validate.References([]*validate.Report{report("own", "c1")}, serves, nil, nil); err != nil {
		t.Fatalf("a route to a cluster of the whole set refused: %v", err)
	}
	err := validate.References([]*validate.Report{report("own", "c2")}, serves, []*cluster.Cluster{edsCluster("c3")}, nil)
	for _, want := range []string{`Cluster "c2" referenced by [RouteConfiguration own] is not served`, `ClusterLoadAssignment "c3" for EDS Cluster c3 is not served`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to say %s", err, want)
		}
	}
}
