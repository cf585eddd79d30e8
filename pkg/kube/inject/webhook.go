package inject

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"embassy.dev/embassy/pkg/kube"
)

// The webhook's paths: the API server calls NamespacePath for Pods of a
// namespace labelled NamespaceLabel=enabled and PodPath for the others,
// so the handler knows which without reading namespaces.
const (
	NamespacePath = "/inject/namespace"
	PodPath       = "/inject/pod"
)

// maxReview bounds an AdmissionReview's body; a Pod is far smaller.
const maxReview = 4 << 20

// Handler serves the mutating admission webhook on NamespacePath and
// PodPath.
func Handler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+NamespacePath, review(cfg, true))
	mux.Handle("POST "+PodPath, review(cfg, false))
	return mux
}

func review(cfg Config, namespaceEnabled bool) http.HandlerFunc {
	return kube.ServeReview(maxReview, func(_ context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		return admit(req, cfg, namespaceEnabled)
	})
}

// admit answers one request: allowed always (injection never blocks a
// Pod it does not apply to), with a JSON patch when it injects. A Pod
// that cannot be read or patched is refused, since letting it through
// would run it outside the mesh it asked to join.
func admit(req *admissionv1.AdmissionRequest, cfg Config, namespaceEnabled bool) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return refuse(req, fmt.Errorf("the object is not a Pod: %w", err))
	}
	if !Wants(&pod, namespaceEnabled) {
		return resp
	}
	patched, changed, err := Patch(&pod, cfg)
	if err != nil {
		return refuse(req, err)
	}
	if !changed {
		return resp
	}
	patch, err := json.Marshal([]patchOp{
		{Op: "add", Path: "/metadata/annotations", Value: patched.Annotations},
		{Op: "add", Path: "/spec/volumes", Value: patched.Spec.Volumes},
		{Op: "add", Path: "/spec/initContainers", Value: patched.Spec.InitContainers},
		{Op: "add", Path: "/spec/containers", Value: patched.Spec.Containers},
	})
	if err != nil {
		return refuse(req, err)
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	return resp
}

// patchOp is one RFC 6902 operation; "add" on an existing member
// replaces it, so each field is written whole.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

func refuse(req *admissionv1.AdmissionRequest, err error) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{UID: req.UID, Allowed: false,
		Result: &metav1.Status{Code: http.StatusBadRequest, Message: "embassy sidecar injection: " + err.Error()}}
}
