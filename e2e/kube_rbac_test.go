//go:build kube

package e2e

import (
	"strings"
	"testing"

	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"embassy.dev/embassy/internal/kubetest"
)

// testKubeRBAC checks with SubjectAccessReview that deploy/kubernetes
// gives embassy-cp's ServiceAccount what it needs and nothing more. That
// it is enough is also shown by the other subtests, where embassy-cp
// runs as that ServiceAccount.
func testKubeRBAC(t *testing.T, k *kubetest.Cluster) {
	const user = "system:serviceaccount:embassy-system:embassy-cp"
	type access struct{ verb, group, resource, ns string }
	may := []access{
		{"list", "", "services", ""}, {"watch", "", "services", "shop"},
		{"get", "", "pods", "shop"}, {"list", "", "pods", ""}, {"watch", "", "pods", ""},
		{"list", "discovery.k8s.io", "endpointslices", ""}, {"watch", "discovery.k8s.io", "endpointslices", "shop"},
		{"create", "authentication.k8s.io", "tokenreviews", ""},
		{"list", "embassy.dev", "routes", ""}, {"watch", "embassy.dev", "authorizationpolicies", "shop"},
		{"watch", "embassy.dev", "meshes", ""}, {"list", "embassy.dev", "trafficpolicies", ""},
	}
	mayNot := []access{
		{"get", "", "secrets", "shop"}, {"list", "", "secrets", ""}, {"list", "", "configmaps", ""},
		{"create", "", "pods", "shop"}, {"update", "", "pods", "shop"}, {"delete", "", "pods", "shop"},
		{"update", "", "pods/status", "shop"}, {"create", "", "pods/exec", "shop"},
		{"create", "", "services", "shop"}, {"delete", "", "services", "shop"},
		{"update", "discovery.k8s.io", "endpointslices", "shop"},
		{"create", "", "serviceaccounts/token", "shop"}, {"impersonate", "", "serviceaccounts", ""},
		{"create", "authorization.k8s.io", "subjectaccessreviews", ""},
		{"list", "", "nodes", ""}, {"escalate", "rbac.authorization.k8s.io", "clusterroles", ""},
		{"create", "embassy.dev", "routes", "shop"}, {"update", "embassy.dev", "authorizationpolicies", "shop"},
		{"delete", "embassy.dev", "meshes", ""},
	}
	check := func(a access) bool {
		t.Helper()
		res, sub, _ := strings.Cut(a.resource, "/")
		r, err := k.Client.AuthorizationV1().SubjectAccessReviews().Create(kctx(t), &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:embassy-system", "system:authenticated"},
			ResourceAttributes: &authzv1.ResourceAttributes{Verb: a.verb, Group: a.group, Resource: res,
				Subresource: sub, Namespace: a.ns},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status.Allowed
	}
	for _, a := range may {
		if !check(a) {
			t.Errorf("embassy-cp may not %s %s %q in %q, which it needs", a.verb, a.group, a.resource, a.ns)
		}
	}
	for _, a := range mayNot {
		if check(a) {
			t.Errorf("embassy-cp may %s %s %q in %q, which it does not need", a.verb, a.group, a.resource, a.ns)
		}
	}
}
