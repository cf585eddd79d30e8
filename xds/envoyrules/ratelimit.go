package envoyrules

import (
	"time"

	lrl "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	"google.golang.org/protobuf/proto"
)

// minFillInterval is the shortest token bucket refill Envoy runs a timer
// for.
const minFillInterval = 50 * time.Millisecond

// fillIntervalRule: a local rate limit refilling faster than every 50 ms
// is refused, in the listener's filter and in a route's per-filter config
// alike (which fails the whole route configuration).
var fillIntervalRule = Rule{
	ID:         "local_ratelimit.fill-interval",
	Source:     "source/extensions/filters/common/local_ratelimit/local_ratelimit_impl.cc",
	EnvoyError: "local rate limit token bucket fill timer must be >= 50ms",
	message: func(m proto.Message) []finding {
		l, ok := m.(*lrl.LocalRateLimit)
		if !ok || l.GetTokenBucket() == nil {
			return nil
		}
		// Envoy reads the interval in whole milliseconds.
		fill := l.GetTokenBucket().GetFillInterval().AsDuration().Truncate(time.Millisecond)
		if fill > 0 && fill < minFillInterval {
			return []finding{{".token_bucket.fill_interval", "local rate limit token bucket fill timer must be >= 50ms"}}
		}
		return nil
	},
}
