//go:build kube

package e2e

import (
	"strings"
	"testing"
	"time"

	admregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"embassy.dev/embassy/internal/kubetest"
	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/kube/inject"
)

// testKubeInjection: the API server calls embassy-cp's mutating webhook
// (served with a certificate of the mesh CA) and Pods that opt in, by
// annotation or by their namespace's label, come back with the agent,
// its volumes and Envoy or the gRPC bootstrap; others are untouched.
func testKubeInjection(t *testing.T, k *kubetest.Cluster) {
	dir := t.TempDir()
	hook := nettest.FreeAddr(t)
	cp := startCP(t, dir+"/data", "127.0.0.1:0", "127.0.0.1:0", "--webhook-addr", hook,
		"--inject-agent-image", "example.org/embassy-agent:test", "--inject-xds-address", "embassy-cp.embassy-system.svc:15010")
	registerInjector(t, k, hook, cp.mustCtl(t, "bundle"))
	kubeNamespace(t, k, "kinj", "default")
	kubeNamespace(t, k, "kinj-on", "default")
	on, err := k.Client.CoreV1().Namespaces().Get(kctx(t), "kinj-on", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	on.Labels[inject.NamespaceLabel] = "enabled"
	if _, err := k.Client.CoreV1().Namespaces().Update(kctx(t), on, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The API server loads webhook configurations asynchronously: wait
	// until a Pod that asks is injected.
	for i := 0; ; i++ {
		p := createPod(t, k, "kinj", "probe-"+string(rune('a'+i%26))+strings.Repeat("x", i/26), map[string]string{inject.Annotation: "true"})
		if p.Annotations[inject.InjectedAnnotation] != "" {
			break
		}
		if i > 100 {
			t.Fatal("no Pod was injected within 100 tries")
		}
		time.Sleep(100 * time.Millisecond)
	}

	began := time.Now()
	envoyPod := createPod(t, k, "kinj", "annotated", map[string]string{inject.Annotation: "true"})
	injectedIn := time.Since(began)
	began = time.Now()
	plain := createPod(t, k, "kinj", "plain", nil)
	plainIn := time.Since(began)
	t.Logf("figure: Pod create through the injection webhook %s, without injection %s", injectedIn.Round(time.Millisecond), plainIn.Round(time.Millisecond))

	expectInjected(t, envoyPod, "envoy")
	if plain.Annotations[inject.InjectedAnnotation] != "" || len(plain.Spec.InitContainers) != 0 || len(plain.Spec.Containers) != 1 {
		t.Fatalf("a Pod that did not ask was changed: %+v", plain.Spec)
	}
	grpcPod := createPod(t, k, "kinj", "proxyless", map[string]string{inject.Annotation: "true", inject.ProxylessAnnotation: "true"})
	expectInjected(t, grpcPod, "proxyless")
	expectInjected(t, createPod(t, k, "kinj-on", "by-namespace", nil), "envoy")
	if out := createPod(t, k, "kinj-on", "opted-out", map[string]string{inject.Annotation: "false"}); out.Annotations[inject.InjectedAnnotation] != "" {
		t.Fatalf("a Pod annotated %s=false was injected", inject.Annotation)
	}
}

// expectInjected checks what the webhook added to a Pod as the API
// server stored it.
func expectInjected(t *testing.T, p *corev1.Pod, flavour string) {
	t.Helper()
	if got := p.Annotations[inject.InjectedAnnotation]; got != flavour {
		t.Fatalf("Pod %s: %s=%q, want %q", p.Name, inject.InjectedAnnotation, got, flavour)
	}
	if len(p.Spec.InitContainers) != 1 || p.Spec.InitContainers[0].Name != inject.AgentContainer ||
		!strings.Contains(strings.Join(p.Spec.InitContainers[0].Args, " "), "--k8s-token-file") {
		t.Fatalf("Pod %s: no agent sidecar with a service-account token: %+v", p.Name, p.Spec.InitContainers)
	}
	var token bool
	for _, v := range p.Spec.Volumes {
		if v.Projected != nil && len(v.Projected.Sources) == 1 && v.Projected.Sources[0].ServiceAccountToken != nil &&
			v.Projected.Sources[0].ServiceAccountToken.Audience == dataplane.KubernetesTokenAudience {
			token = true
		}
	}
	if !token {
		t.Fatalf("Pod %s: no projected token volume for audience embassy-cp: %+v", p.Name, p.Spec.Volumes)
	}
	app := p.Spec.Containers[0]
	switch flavour {
	case "envoy":
		if len(p.Spec.Containers) != 2 || p.Spec.Containers[1].Name != inject.EnvoyContainer {
			t.Fatalf("Pod %s: no Envoy container: %+v", p.Name, p.Spec.Containers)
		}
	case "proxyless":
		var boot string
		for _, e := range app.Env {
			if e.Name == "GRPC_XDS_BOOTSTRAP_CONFIG" {
				boot = e.Value
			}
		}
		if len(p.Spec.Containers) != 1 || !strings.Contains(boot, "$(POD_NAME).$(POD_NAMESPACE)") || !strings.Contains(boot, "embassy-cp.embassy-system.svc:15010") {
			t.Fatalf("Pod %s: the app has no gRPC bootstrap for the Pod's node id: %q", p.Name, boot)
		}
	}
}

// createPod creates a Pod with one container and returns it as stored.
func createPod(t *testing.T, k *kubetest.Cluster, ns, name string, annotations map[string]string) *corev1.Pod {
	t.Helper()
	p, err := k.Client.CoreV1().Pods(ns).Create(kctx(t), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.org/app:1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Pod %s/%s: %v", ns, name, err)
	}
	return p
}

// registerInjector registers the webhook at addr as deploy/kubernetes
// does, but by URL, since embassy-cp runs outside the cluster here.
func registerInjector(t *testing.T, k *kubetest.Cluster, addr, caBundle string) {
	t.Helper()
	none := admregv1.SideEffectClassNone
	fail, ignore := admregv1.Fail, admregv1.Ignore
	rules := []admregv1.RuleWithOperations{{Operations: []admregv1.OperationType{admregv1.Create},
		Rule: admregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}
	hook := func(name, path string, policy *admregv1.FailurePolicyType, sel *metav1.LabelSelector) admregv1.MutatingWebhook {
		url := "https://" + addr + path
		return admregv1.MutatingWebhook{Name: name, ClientConfig: admregv1.WebhookClientConfig{URL: &url, CABundle: []byte(caBundle)},
			Rules: rules, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, FailurePolicy: policy, NamespaceSelector: sel}
	}
	cfg := &admregv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "embassy-inject"},
		Webhooks: []admregv1.MutatingWebhook{
			hook("namespace.inject.embassy.dev", inject.NamespacePath, &fail, &metav1.LabelSelector{MatchLabels: map[string]string{inject.NamespaceLabel: "enabled"}}),
			hook("pod.inject.embassy.dev", inject.PodPath, &ignore, &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: inject.NamespaceLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"enabled"}},
				{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system", "embassy-system"}},
			}}),
		},
	}
	if _, err := k.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(kctx(t), cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(kctx(t), cfg.Name, metav1.DeleteOptions{})
	})
}
