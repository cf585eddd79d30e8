package translate_test

import (
	"testing"

	"embassy.dev/embassy/xds/envoyrules"
	"embassy.dev/embassy/xds/translate"
)

// BenchmarkServableChecks measures what the publisher adds per shape
// before serving it, on the outbound set of a 1,000-service mesh (the same
// mesh as BenchmarkOutbound, whose translation time it compares with):
// package validate, the Envoy load-time rules, and both.
func BenchmarkServableChecks(b *testing.B) {
	r, _ := translate.Outbound(largeMesh(1000, 5))
	checks := map[string]func(*translate.Resources) error{
		"validate":   validateResources,
		"envoyrules": func(r *translate.Resources) error { return envoyrules.Check(r).Err() },
		"both": func(r *translate.Resources) error {
			if err := validateResources(r); err != nil {
				return err
			}
			return envoyrules.Check(r).Err()
		},
	}
	for _, name := range []string{"validate", "envoyrules", "both"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := checks[name](r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
