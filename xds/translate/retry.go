package translate

import (
	"strings"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// defaultRetryOn is what a retry policy retries when it lists no
// conditions: failures that happen before the request reached the app, and
// the gRPC statuses that mean the same.
const defaultRetryOn = "connect-failure,refused-stream,unavailable,cancelled"

// retriableStatusCodes is Envoy's retry condition that enables
// retriable_status_codes; without it the codes are never consulted.
const retriableStatusCodes = "retriable-status-codes"

// retryPolicy sets a rule's retries: conditions, status codes, attempts,
// per-try timeout and back-off. gRPC reads the gRPC-code conditions,
// num_retries and the back-off, and ignores the rest.
func (t *translator) retryPolicy(action *route.RouteAction, rule resource.RouteRule, times mesh.RuleTimes) {
	rp := rule.Retries
	if rp == nil || rp.Attempts == 0 {
		// gRPC refuses num_retries 0, and zero attempts means no retry.
		return
	}
	conditions := rp.RetryOn
	if len(conditions) == 0 {
		conditions = strings.Split(defaultRetryOn, ",")
	}
	if len(rp.RetriableStatusCodes) > 0 {
		conditions = append(append([]string(nil), conditions...), retriableStatusCodes)
	}
	out := &route.RetryPolicy{
		RetryOn:              strings.Join(conditions, ","),
		NumRetries:           wrapperspb.UInt32(rp.Attempts),
		RetriableStatusCodes: rp.RetriableStatusCodes,
	}
	if times.PerTryTimeout > 0 {
		out.PerTryTimeout = durationpb.New(times.PerTryTimeout)
	}
	if times.BackoffBase > 0 {
		out.RetryBackOff = &route.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(times.BackoffBase)}
		if times.BackoffMax > 0 {
			out.RetryBackOff.MaxInterval = durationpb.New(times.BackoffMax)
		}
	}
	action.RetryPolicy = out
}
