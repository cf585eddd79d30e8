package agent

import (
	"fmt"
	"os"
	"strings"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/jointoken"
)

// ReadTokenFile reads a join token from path: the file's content without
// surrounding white space, in the form emb1.<id>.<secret>. The token is a
// secret, so no error carries the file's content.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(b))
	if _, _, err := jointoken.Parse(token); err != nil {
		return "", fmt.Errorf("%s: %w (make one with embassyctl token create)", path, err)
	}
	return token, nil
}

// ReadServiceAccountToken reads a Kubernetes service-account token (a
// JWT the kubelet writes into a projected volume) from path, without
// surrounding space. Only the API server can tell whether it is valid.
func ReadServiceAccountToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(b))
	if strings.Count(token, ".") != 2 {
		return "", fmt.Errorf("%s does not hold a service-account token (a JWT): mount a projected serviceAccountToken volume with audience %s there", path, dataplane.KubernetesTokenAudience)
	}
	return token, nil
}
