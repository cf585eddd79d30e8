package attest

import (
	"errors"
	"strings"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"

	"embassy.dev/embassy/pkg/identity/service"
)

func review(user string, audiences []string, extra map[string]authnv1.ExtraValue) authnv1.TokenReviewStatus {
	return authnv1.TokenReviewStatus{Authenticated: true, Audiences: audiences,
		User: authnv1.UserInfo{Username: user, Extra: extra}}
}

var bound = map[string]authnv1.ExtraValue{extraPodName: {"web-0"}, extraPodUID: {"u1"}}

func TestReviewedReadsAPodBoundServiceAccount(t *testing.T) {
	id, err := reviewed(review("system:serviceaccount:shop:web", []string{Audience}, bound))
	if err != nil || id != (service.PodIdentity{Namespace: "shop", ServiceAccount: "web", Pod: "web-0", PodUID: "u1"}) {
		t.Fatalf("got %+v, %v", id, err)
	}
}

// The API server's answer is checked again here, so a review that says
// less than a Pod-bound token of the audience is refused.
func TestReviewedRefuses(t *testing.T) {
	for name, st := range map[string]authnv1.TokenReviewStatus{
		"not authenticated":     {Error: "token expired"},
		"another audience":      review("system:serviceaccount:shop:web", []string{"other"}, bound),
		"not a service account": review("alice", []string{Audience}, bound),
		"no pod":                review("system:serviceaccount:shop:web", []string{Audience}, nil),
		"no namespace":          review("system:serviceaccount::web", []string{Audience}, bound),
	} {
		_, err := reviewed(st)
		if !errors.Is(err, service.ErrPodTokenRefused) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
	if _, err := reviewed(authnv1.TokenReviewStatus{Error: "token expired"}); !strings.Contains(err.Error(), "token expired") {
		t.Errorf("the API server's reason is lost: %v", err)
	}
}
