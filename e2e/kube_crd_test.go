//go:build kube

package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	admregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"embassy.dev/embassy/internal/kubetest"
	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/pkg/kube/admission"
	"embassy.dev/embassy/pkg/kube/crd"
	"embassy.dev/embassy/pkg/resource"
)

const crdBadRoute = `apiVersion: embassy.dev/v1alpha1
kind: Route
metadata: {name: echo, namespace: kcrd}
spec:
  service: echo
  rules:
    - timeout: soon
      backends: [{weight: 100}]
`

const crdBadPolicy = `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: broken, namespace: kcrd}
spec:
  targets: {services: [echo]}
  modules:
    - name: authz.rego
      rego: |
        package envoy.authz
        allow if {
`

// testKubeCRDs: the Embassy CRDs install, the API server refuses a bad
// Route and a policy whose Rego does not compile through embassy-cp's
// validating webhook with embassyctl apply's own message, and a Route
// written with kubectl splits a discovered Service.
func testKubeCRDs(t *testing.T, k *kubetest.Cluster, cpKubeconfig string) {
	const ns = "kcrd"
	dir := t.TempDir()
	k.Apply(t, "../deploy/kubernetes/crds.yaml")
	dyn, err := dynamic.NewForConfig(k.Config)
	if err != nil {
		t.Fatal(err)
	}
	routes := dyn.Resource(schema.GroupVersionResource{Group: crd.Group, Version: crd.Version, Resource: crd.Plural(resource.KindRoute)}).Namespace(ns)
	policies := dyn.Resource(schema.GroupVersionResource{Group: crd.Group, Version: crd.Version, Resource: crd.Plural(resource.KindAuthorizationPolicy)}).Namespace(ns)
	echoPods(t, k, ns)
	hook := nettest.FreeAddr(t)
	cp := startCP(t, dir+"/data", "127.0.0.1:0", "127.0.0.1:0", "--kubernetes", "--kubernetes-crds", "--kubeconfig", cpKubeconfig,
		"--namespaces", ns, "--webhook-addr", hook)
	registerValidator(t, k, hook, cp.mustCtl(t, "bundle"))

	// What embassyctl says of each bad document, past its file name.
	want := func(doc, path string) string {
		out, code := cp.ctl(t, "apply", "-f", writeFile(t, dir, "bad.yaml", doc))
		m := regexp.MustCompile(regexp.QuoteMeta(path) + `[^\n]*`).FindString(out)
		if code == 0 || m == "" {
			t.Fatalf("embassyctl apply of a bad document (exit %d) says nothing of %s:\n%s", code, path, out)
		}
		return m
	}
	// The API server loads webhook configurations asynchronously: create
	// until it refuses, then compare what it says.
	refusal := func(ri dynamic.ResourceInterface, doc string) (string, time.Duration) {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			began := time.Now()
			_, err := ri.Create(kctx(t), &u, metav1.CreateOptions{})
			if err != nil {
				return err.Error(), time.Since(began)
			}
			ri.Delete(kctx(t), u.GetName(), metav1.DeleteOptions{})
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("the API server accepted %s %s 100 times", u.GetKind(), u.GetName())
		return "", 0
	}
	for _, c := range []struct {
		ri        dynamic.ResourceInterface
		doc, path string
	}{{routes, crdBadRoute, "spec.rules[0].timeout"}, {policies, crdBadPolicy, "spec.modules[0]"}} {
		msg := want(c.doc, c.path)
		got, took := refusal(c.ri, c.doc)
		t.Logf("figure: kubectl-equivalent create of a bad %s refused through the validating webhook in %s", c.path, took.Round(time.Millisecond))
		if !strings.Contains(got, "admission webhook") || !strings.Contains(got, msg) {
			t.Errorf("the API server's refusal:\n%s\ndoes not carry embassyctl's message:\n%s", got, msg)
		}
	}

	good := fmt.Sprintf(kubeRoute, 0, 100)
	good = strings.ReplaceAll(good, "namespace: kdisc", "namespace: "+ns)
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(good), &u.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := routes.Create(kctx(t), &u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("a good Route was refused: %v", err)
	}
	boot := writeFile(t, dir, "bootstrap.json", cp.mustCtl(t, "bootstrap", "grpc", "--workload", "client.default", "--xds-address", cp.xds))
	callsUntil(t, boot, "xds:///echo."+ns+":50051", "a 0/100 Route written with kubectl sends every call to v2", func(s split) bool {
		return s.Errors == 0 && s.Total > 0 && s.ByBackend["v2"] == s.Total
	})
}

// registerValidator registers the validating webhook at addr for the
// Embassy kinds, by URL since embassy-cp runs outside the cluster here.
func registerValidator(t *testing.T, k *kubetest.Cluster, addr, caBundle string) {
	t.Helper()
	none, fail := admregv1.SideEffectClassNone, admregv1.Fail
	var plurals []string
	for _, kind := range crd.Kinds {
		plurals = append(plurals, crd.Plural(kind))
	}
	url := "https://" + addr + admission.Path
	cfg := &admregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "embassy-validate"},
		Webhooks: []admregv1.ValidatingWebhook{{
			Name:         "validate.embassy.dev",
			ClientConfig: admregv1.WebhookClientConfig{URL: &url, CABundle: []byte(caBundle)},
			Rules: []admregv1.RuleWithOperations{{Operations: []admregv1.OperationType{admregv1.Create, admregv1.Update},
				Rule: admregv1.Rule{APIGroups: []string{crd.Group}, APIVersions: []string{crd.Version}, Resources: plurals}}},
			SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, FailurePolicy: &fail,
		}},
	}
	if _, err := k.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(kctx(t), cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(kctx(t), cfg.Name, metav1.DeleteOptions{})
	})
}
