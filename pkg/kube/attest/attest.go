// Package attest verifies the projected service-account tokens that
// embassy-agent presents on Kubernetes instead of a join token. The API
// server's TokenReview checks the signature, expiry and audience, and
// that the object the token is bound to still exists; this package then
// insists that the token is bound to a Pod, and that the Pod is live,
// has the reviewed UID and runs as the token's service account.
package attest

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity/service"
)

// Audience is the audience an agent's projected token must be minted for.
const Audience = dataplane.KubernetesTokenAudience

// The extra fields TokenReview reports for a token bound to a Pod.
const (
	extraPodName = "authentication.kubernetes.io/pod-name"
	extraPodUID  = "authentication.kubernetes.io/pod-uid"
)

// saPrefix starts the user name of every service account.
const saPrefix = "system:serviceaccount:"

// Verifier checks tokens against one API server. It is safe for
// concurrent use.
type Verifier struct {
	client kubernetes.Interface
}

// New returns a Verifier that asks client's API server.
func New(client kubernetes.Interface) *Verifier { return &Verifier{client: client} }

// VerifyPodToken implements service.PodTokenVerifier.
func (v *Verifier) VerifyPodToken(ctx context.Context, token string) (service.PodIdentity, error) {
	review, err := v.client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: []string{Audience}},
	}, metav1.CreateOptions{})
	if err != nil {
		return service.PodIdentity{}, fmt.Errorf("TokenReview: %w", err)
	}
	id, err := reviewed(review.Status)
	if err != nil {
		return service.PodIdentity{}, err
	}
	return id, v.checkPod(ctx, id)
}

// reviewed reads the identity out of a TokenReview's answer.
func reviewed(st authnv1.TokenReviewStatus) (service.PodIdentity, error) {
	if !st.Authenticated {
		reason := st.Error
		if reason == "" {
			reason = "not authenticated"
		}
		return service.PodIdentity{}, refused("the API server does not accept it for audience %s (%s); mount a projected service-account token with audience %s", Audience, reason, Audience)
	}
	if !slices.Contains(st.Audiences, Audience) {
		return service.PodIdentity{}, refused("it is not for audience %s", Audience)
	}
	rest, ok := strings.CutPrefix(st.User.Username, saPrefix)
	ns, sa, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || ns == "" || sa == "" {
		return service.PodIdentity{}, refused("it is not a service account's token (user %q)", st.User.Username)
	}
	pod, uid := first(st.User.Extra[extraPodName]), first(st.User.Extra[extraPodUID])
	if pod == "" || uid == "" {
		return service.PodIdentity{}, refused("it is not bound to a Pod: use a projected service-account token of the agent's Pod, not a Secret's or a TokenRequest's without boundObjectRef")
	}
	return service.PodIdentity{Namespace: ns, ServiceAccount: sa, Pod: pod, PodUID: uid}, nil
}

// checkPod insists that the Pod the token is bound to is live: the same
// UID (not a new Pod of the same name), not being deleted, and running as
// the token's service account.
func (v *Verifier) checkPod(ctx context.Context, id service.PodIdentity) error {
	p, err := v.client.CoreV1().Pods(id.Namespace).Get(ctx, id.Pod, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return refused("the Pod %s/%s it is bound to no longer exists", id.Namespace, id.Pod)
	case err != nil:
		return fmt.Errorf("reading Pod %s/%s: %w", id.Namespace, id.Pod, err)
	case string(p.UID) != id.PodUID:
		return refused("the Pod %s/%s it was bound to (uid %s) was replaced by another of the same name", id.Namespace, id.Pod, id.PodUID)
	case p.DeletionTimestamp != nil:
		return refused("the Pod %s/%s it is bound to is being deleted", id.Namespace, id.Pod)
	case p.Spec.ServiceAccountName != id.ServiceAccount:
		return refused("the Pod %s/%s runs as service account %q, not %q", id.Namespace, id.Pod, p.Spec.ServiceAccountName, id.ServiceAccount)
	}
	return nil
}

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", service.ErrPodTokenRefused, fmt.Sprintf(format, args...))
}

func first(v authnv1.ExtraValue) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
