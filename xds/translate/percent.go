package translate

import (
	"math"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// fractionalPercent turns a percent (0..100, fractions allowed) into parts
// per million, the finest denominator Envoy and gRPC share.
func fractionalPercent(p float64) *typev3.FractionalPercent {
	p = min(max(p, 0), 100)
	return &typev3.FractionalPercent{Numerator: uint32(math.Round(p * 10000)), Denominator: typev3.FractionalPercent_MILLION}
}

// runtimeFraction is a fractional percent with no runtime override.
func runtimeFraction(p float64) *core.RuntimeFractionalPercent {
	return &core.RuntimeFractionalPercent{DefaultValue: fractionalPercent(p)}
}
