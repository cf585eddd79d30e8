package inject

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var testConfig = Config{AgentImage: "agent:1", EnvoyImage: "envoy:1", XDSAddress: "cp.example:15010"}

func pod(annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: annotations},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}
}

func TestWants(t *testing.T) {
	for _, c := range []struct {
		annotation string
		ns, want   bool
	}{
		{"", false, false}, {"", true, true}, {"true", false, true}, {"false", true, false}, {"yes", false, false},
	} {
		p := pod(map[string]string{Annotation: c.annotation})
		if c.annotation == "" {
			p = pod(nil)
		}
		if got := Wants(p, c.ns); got != c.want {
			t.Errorf("annotation %q, namespace enabled %v: %v, want %v", c.annotation, c.ns, got, c.want)
		}
	}
}

func TestPatchIsIdempotent(t *testing.T) {
	once, changed, err := Patch(pod(nil), testConfig)
	if err != nil || !changed {
		t.Fatalf("first patch: changed %v, %v", changed, err)
	}
	twice, changed, err := Patch(once, testConfig)
	if err != nil || changed || twice != once {
		t.Fatalf("a Pod patched again changed: %v, %v", changed, err)
	}
	if len(once.Spec.InitContainers) != 1 || len(once.Spec.Containers) != 2 || len(once.Spec.Volumes) != 3 {
		t.Fatalf("patched Pod: %+v", once.Spec)
	}
	args := strings.Join(once.Spec.InitContainers[0].Args, " ")
	for _, want := range []string{"--cp cp.example:15010", "--workload $(POD_NAME).$(POD_NAMESPACE)", "--envoy-bootstrap " + envoyBoot} {
		if !strings.Contains(args, want) {
			t.Errorf("agent args %q lack %q", args, want)
		}
	}
}

func TestProxylessGetsTheBootstrapNotEnvoy(t *testing.T) {
	p, _, err := Patch(pod(map[string]string{ProxylessAnnotation: "true"}), testConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Containers) != 1 || strings.Contains(strings.Join(p.Spec.InitContainers[0].Args, " "), "--envoy-bootstrap") {
		t.Fatalf("a proxyless Pod got Envoy: %+v", p.Spec)
	}
	env := p.Spec.Containers[0].Env
	if len(env) != 3 || env[0].Name != "POD_NAME" || env[2].Name != "GRPC_XDS_BOOTSTRAP_CONFIG" {
		t.Fatalf("env %+v: want the Pod's name before the bootstrap that expands it", env)
	}
	var boot map[string]any
	if err := json.Unmarshal([]byte(env[2].Value), &boot); err != nil {
		t.Fatalf("the bootstrap is not JSON: %v", err)
	}
}

func TestWebhookAnswersWithAPatch(t *testing.T) {
	raw, _ := json.Marshal(pod(map[string]string{Annotation: "true"}))
	body, _ := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u1", Object: runtime.RawExtension{Raw: raw}}})
	rec := httptest.NewRecorder()
	Handler(testConfig).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PodPath, bytes.NewReader(body)))
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &ar); err != nil || ar.Response == nil {
		t.Fatalf("answer %q: %v", rec.Body.String(), err)
	}
	if ar.Response.UID != "u1" || !ar.Response.Allowed || ar.Response.PatchType == nil || !strings.Contains(string(ar.Response.Patch), AgentContainer) {
		t.Fatalf("response %+v", ar.Response)
	}
	rec = httptest.NewRecorder()
	Handler(testConfig).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PodPath, strings.NewReader("{")))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("a malformed review: %d", rec.Code)
	}
}
