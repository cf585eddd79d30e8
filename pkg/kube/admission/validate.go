// Package admission is the validating admission webhook of the Embassy
// custom resources: the API server sends each Mesh, Route, TrafficPolicy
// and AuthorizationPolicy written with kubectl, and the webhook runs the
// very checks of `embassyctl apply` on it (a dry run of the control
// plane's applier: validation, Rego compilation, references), so a bad
// document is refused with the same message either way.
package admission

import (
	"context"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/kube"
	"embassy.dev/embassy/pkg/kube/crd"
	"embassy.dev/embassy/pkg/resource"
)

// Path is where the API server sends reviews.
const Path = "/validate"

// maxReview bounds a review's body, well above any policy's Rego.
const maxReview = 8 << 20

// checkTimeout bounds one dry run; the API server's own webhook timeout
// (at most 30 s) is the outer bound.
const checkTimeout = 25 * time.Second

// Applier is what the webhook needs of the control plane's applier.
type Applier interface {
	Apply(ctx context.Context, rs []*resource.Resource, dryRun bool) (*apply.Result, error)
}

// Handler serves the webhook on Path.
func Handler(a Applier) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Path, kube.ServeReview(maxReview, func(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		ctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		return review(ctx, a, req)
	}))
	return mux
}

// review dry-runs the object's apply. Deletes are not checked, as
// embassyctl delete checks only that references do not dangle, which a
// cluster's own objects cannot see.
func review(ctx context.Context, a Applier, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Operation == admissionv1.Delete {
		return resp
	}
	rs, err := crd.Decode(req.Object.Raw)
	if err == nil {
		_, err = a.Apply(ctx, rs, true)
	}
	if err != nil {
		resp.Allowed = false
		resp.Result = &metav1.Status{Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid, Message: err.Error()}
	}
	return resp
}
