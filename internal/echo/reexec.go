package echo

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// The environment variables grpc-go reads its xDS bootstrap from.
const (
	EnvBootstrapFile   = "GRPC_XDS_BOOTSTRAP"
	EnvBootstrapConfig = "GRPC_XDS_BOOTSTRAP_CONFIG"
)

// UseBootstrap makes grpc-go use file as its xDS bootstrap, for the
// --bootstrap flag of echo-client and echo-server. grpc-go reads the
// bootstrap environment variables once, during package initialisation,
// before main can set anything; so the only way for a flag to take effect is
// to run this program again with the variable set. syscall.Exec replaces the
// process (same PID, same stdio), so whoever started us can still signal or
// wait for it. When either variable is already set — which is also the case
// after the re-exec — the environment wins and nothing happens.
func UseBootstrap(file string) error {
	if os.Getenv(EnvBootstrapFile) != "" || os.Getenv(EnvBootstrapConfig) != "" {
		return nil
	}
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("--bootstrap: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--bootstrap: find own executable to re-run with %s: %w", EnvBootstrapFile, err)
	}
	env := append(os.Environ(), EnvBootstrapFile+"="+file)
	if err := syscall.Exec(self, os.Args, env); err != nil {
		return fmt.Errorf("--bootstrap: re-run with %s: %w", EnvBootstrapFile, err)
	}
	return nil // not reached: Exec only returns on error
}

// BootstrapSet reports whether grpc-go has an xDS bootstrap from the
// environment.
func BootstrapSet() bool {
	return os.Getenv(EnvBootstrapFile) != "" || os.Getenv(EnvBootstrapConfig) != ""
}

// InsecureBootstrap reports whether grpc-go's xDS bootstrap (from the
// environment) reaches its first xDS server with "insecure" channel
// credentials: an application without a certificate, for a control plane
// run with --insecure-xds. The quickstart apps then use plaintext for
// their own calls too, whatever security the mesh's resources ask for,
// since there is no certificate to present. It is false when there is no
// bootstrap or it cannot be read, and for the agent's xDS relay (a unix
// socket): that channel is plaintext because it is local, while the
// application holds the agent's certificates for its calls.
func InsecureBootstrap() bool {
	raw := []byte(os.Getenv(EnvBootstrapConfig))
	if len(raw) == 0 {
		f := os.Getenv(EnvBootstrapFile)
		if f == "" {
			return false
		}
		var err error
		if raw, err = os.ReadFile(f); err != nil {
			return false
		}
	}
	var b struct {
		XDSServers []struct {
			ServerURI    string `json:"server_uri"`
			ChannelCreds []struct {
				Type string `json:"type"`
			} `json:"channel_creds"`
		} `json:"xds_servers"`
	}
	if json.Unmarshal(raw, &b) != nil || len(b.XDSServers) == 0 || len(b.XDSServers[0].ChannelCreds) == 0 {
		return false
	}
	return b.XDSServers[0].ChannelCreds[0].Type == "insecure" && !strings.HasPrefix(b.XDSServers[0].ServerURI, "unix:")
}
