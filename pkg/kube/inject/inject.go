// Package inject adds embassy-agent, and Envoy or the gRPC xDS bootstrap,
// to the Pods that ask for it. Patch is pure: the admission webhook
// (Handler) calls it on each Pod the API server sends, and tests call it
// directly.
package inject

import (
	"fmt"
	"maps"
	"path"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"embassy.dev/embassy/pkg/bootstrap"
	"embassy.dev/embassy/pkg/dataplane"
)

// Annotations and names a Pod or namespace carries.
const (
	// Annotation set to "true" on a Pod asks for injection; "false"
	// refuses it even in a namespace that opted in.
	Annotation = "embassy.dev/inject"
	// NamespaceLabel set to "enabled" on a namespace injects every Pod in
	// it (the webhook configuration selects on it).
	NamespaceLabel = "embassy.dev/inject"
	// ProxylessAnnotation set to "true" gives the Pod's containers the
	// gRPC xDS bootstrap instead of an Envoy sidecar.
	ProxylessAnnotation = "embassy.dev/proxyless"
	// InjectedAnnotation records what was injected: "envoy" or "proxyless".
	InjectedAnnotation = "embassy.dev/injected"
	// AgentContainer and EnvoyContainer name the containers added.
	AgentContainer = "embassy-agent"
	EnvoyContainer = "envoy"
	// TrustBundleConfigMap is the ConfigMap, in the Pod's namespace, whose
	// key bundle.pem holds the mesh's roots (embassyctl bundle).
	TrustBundleConfigMap = "embassy-trust-bundle"
)

// Paths inside the Pod.
const (
	runDir       = "/run/embassy"
	tokenDir     = "/var/run/secrets/embassy.dev"
	bundleDir    = "/etc/embassy"
	tokenFile    = "token"
	bundleFile   = "bundle.pem"
	envoyBoot    = runDir + "/envoy.yaml"
	tokenSeconds = 3600
)

// Volume names.
const (
	runVolume    = "embassy-run"
	tokenVolume  = "embassy-token"
	bundleVolume = "embassy-bundle"
)

// Config says what to inject.
type Config struct {
	AgentImage, EnvoyImage string
	// XDSAddress is embassy-cp's xDS host:port as Pods reach it.
	XDSAddress string
}

// Wants says whether a Pod is to be injected: its annotation decides,
// else whether its namespace opted in.
func Wants(pod *corev1.Pod, namespaceEnabled bool) bool {
	switch pod.Annotations[Annotation] {
	case "true":
		return true
	case "false":
		return false
	}
	return namespaceEnabled
}

// Patch returns the Pod with the agent, its volumes and Envoy (or the
// gRPC bootstrap) added, or the Pod itself and false when it already has
// them, so a Pod sent twice is injected once.
func Patch(pod *corev1.Pod, cfg Config) (*corev1.Pod, bool, error) {
	if hasAgent(pod) {
		return pod, false, nil
	}
	p := pod.DeepCopy()
	proxyless := p.Annotations[ProxylessAnnotation] == "true"
	p.Spec.Volumes = append(p.Spec.Volumes, volumes()...)
	p.Spec.InitContainers = append(p.Spec.InitContainers, agent(cfg, proxyless))
	p.Annotations = maps.Clone(p.Annotations)
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	if proxyless {
		boot, err := grpcBootstrap(cfg)
		if err != nil {
			return nil, false, err
		}
		for i := range p.Spec.Containers {
			addProxyless(&p.Spec.Containers[i], boot)
		}
		p.Annotations[InjectedAnnotation] = "proxyless"
	} else {
		p.Spec.Containers = append(p.Spec.Containers, envoy(cfg))
		p.Annotations[InjectedAnnotation] = "envoy"
	}
	return p, true, nil
}

func hasAgent(p *corev1.Pod) bool {
	is := func(c corev1.Container) bool { return c.Name == AgentContainer }
	return slices.ContainsFunc(p.Spec.InitContainers, is) || slices.ContainsFunc(p.Spec.Containers, is)
}

// volumes are the agent's sockets and PEM files, its token and the
// mesh's roots.
func volumes() []corev1.Volume {
	return []corev1.Volume{
		{Name: runVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: tokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
			ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: dataplane.KubernetesTokenAudience, ExpirationSeconds: ptr(int64(tokenSeconds)), Path: tokenFile},
		}}}}},
		{Name: bundleVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: TrustBundleConfigMap}}}},
	}
}

// podEnv names the Pod for the agent's --workload and the bootstrap's
// node id; the name is unknown at admission for Pods of a ReplicaSet.
var podEnv = []corev1.EnvVar{
	{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
}

// nodeID is the Pod's node id, expanded by the kubelet from podEnv.
const nodeID = "$(POD_NAME).$(POD_NAMESPACE)"

// agent is the agent as a native sidecar: an init container that keeps
// running, so it has attested before the Pod's containers start.
func agent(cfg Config, proxyless bool) corev1.Container {
	args := []string{"--cp", cfg.XDSAddress, "--k8s-token-file", path.Join(tokenDir, tokenFile),
		"--trust-bundle", path.Join(bundleDir, bundleFile), "--workload", nodeID, "--socket-dir", runDir}
	if !proxyless {
		args = append(args, "--envoy-bootstrap", envoyBoot)
	}
	return corev1.Container{
		Name: AgentContainer, Image: cfg.AgentImage, Args: args, Env: podEnv,
		RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways),
		VolumeMounts: []corev1.VolumeMount{
			{Name: runVolume, MountPath: runDir},
			{Name: tokenVolume, MountPath: tokenDir, ReadOnly: true},
			{Name: bundleVolume, MountPath: bundleDir, ReadOnly: true},
		},
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
	}
}

// envoy runs Envoy on the bootstrap the agent writes.
func envoy(cfg Config) corev1.Container {
	return corev1.Container{
		Name: EnvoyContainer, Image: cfg.EnvoyImage, Args: []string{"-c", envoyBoot},
		VolumeMounts: []corev1.VolumeMount{{Name: runVolume, MountPath: runDir, ReadOnly: true}},
	}
}

// grpcBootstrap is the proxyless bootstrap, mTLS with the agent's files.
func grpcBootstrap(cfg Config) (string, error) {
	b, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: nodeID, XDSAddress: cfg.XDSAddress, CertDir: runDir})
	if err != nil {
		return "", fmt.Errorf("the gRPC bootstrap: %w", err)
	}
	return string(b), nil
}

// addProxyless gives a container the bootstrap and the agent's files.
// The Pod's name comes first, since the kubelet expands $(VAR) only from
// variables defined before.
func addProxyless(c *corev1.Container, boot string) {
	c.Env = append(append(slices.Clone(podEnv), c.Env...), corev1.EnvVar{Name: "GRPC_XDS_BOOTSTRAP_CONFIG", Value: boot})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: runVolume, MountPath: runDir, ReadOnly: true})
}

func ptr[T any](v T) *T { return &v }
