package translate_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/xds/envoyrules"
)

// Property-test bounds: a fixed number of meshes from a fixed seed, so a
// failure reproduces, and a time bound so a slow machine ends early rather
// than late (liveness only: no result depends on it).
const (
	propertySeed   = 11
	propertyMeshes = 150
	propertyBudget = 60 * time.Second
)

// TestPropertyTranslationsKeepEnvoyRules draws random meshes of valid
// resources, translates them for every workload in both flavours (and for a
// sidecar and a proxyless client without a workload), and checks that what
// each proxy would be served passes package validate and every Envoy
// load-time rule.
func TestPropertyTranslationsKeepEnvoyRules(t *testing.T) {
	g := &meshGen{r: rand.New(rand.NewPCG(propertySeed, propertySeed))}
	deadline := time.Now().Add(propertyBudget)
	drawn, kept, proxies := 0, 0, 0
	for i := 0; i < propertyMeshes && time.Now().Before(deadline); i++ {
		all := g.mesh()
		valid := validOnly(all)
		drawn, kept = drawn+len(all), kept+len(valid)
		s := mesh.New(int64(i+1), valid, mesh.WithAuthz(compileAuthz))
		for proxy, r := range everyProxy(s) {
			proxies++
			if err := validateResources(r); err != nil {
				t.Errorf("mesh %d, %s: does not validate:\n%v\nresources: %s", i, proxy, err, describe(valid))
			}
			for _, v := range envoyrules.Check(r) {
				t.Errorf("mesh %d, %s: %s\nresources: %s", i, proxy, v, describe(valid))
			}
		}
	}
	// A generator whose draws are mostly refused would test little.
	if kept*2 < drawn {
		t.Errorf("only %d of %d drawn resources were valid", kept, drawn)
	}
	t.Logf("%d resources drawn, %d valid, %d proxy sets checked", drawn, kept, proxies)
}

// validOnly keeps the resources pkg/resource accepts on their own and
// together, as an apply would.
func validOnly(all []*resource.Resource) []*resource.Resource {
	var out []*resource.Resource
	for _, r := range all {
		if resource.Validate(r) == nil {
			out = append(out, r)
		}
	}
	for len(out) > 0 {
		if _, err := resource.CheckReferences(out); err == nil {
			break
		}
		// Drop the last resource until the references hold: an apply would
		// refuse the whole set, and a smaller valid set still tests.
		out = out[:len(out)-1]
	}
	return out
}

// describe names the resources of a failing mesh, for reproducing it.
func describe(rs []*resource.Resource) string {
	b, _ := json.Marshal(rs)
	return string(b)
}
