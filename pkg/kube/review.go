package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
)

// ServeReview is the HTTP side of an admission webhook: it reads an
// admission.k8s.io/v1 AdmissionReview of at most maxBody bytes, has
// answer judge its request, and writes the review back carrying the
// response alone. A body that is not such a review gets 400.
func ServeReview(maxBody int64, answer func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var ar admissionv1.AdmissionReview
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err == nil {
			err = json.Unmarshal(body, &ar)
		}
		if err != nil || ar.Request == nil {
			http.Error(w, fmt.Sprintf("expected an admission.k8s.io/v1 AdmissionReview with a request: %v", err), http.StatusBadRequest)
			return
		}
		ar.Response = answer(r.Context(), ar.Request)
		ar.Request = nil
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(&ar)
	}
}
