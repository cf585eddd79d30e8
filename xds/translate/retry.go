package translate

import (
	"strings"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
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
func (t *translator) retryPolicy(action *route.RouteAction, r *mesh.Route, rule resource.RouteRule) {
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
	if d, ok := t.parseDuration(r, "perTryTimeout", rp.PerTryTimeout); ok {
		out.PerTryTimeout = d
	}
	if b := rp.Backoff; b != nil {
		if base, ok := t.parseDuration(r, "backoff.base", b.Base); ok && base.AsDuration() > 0 {
			out.RetryBackOff = &route.RetryPolicy_RetryBackOff{BaseInterval: base}
			if maxD, ok := t.parseDuration(r, "backoff.max", b.Max); ok && maxD.AsDuration() > 0 {
				out.RetryBackOff.MaxInterval = maxD
			}
		}
	}
	action.RetryPolicy = out
}
