package demoha

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The quickstart's apps: two echo servers whose agents register their
// Workloads, and a proxyless client.
var apps = []struct {
	name, sa string
	// register are the agent's flags that register a server's Workload;
	// %s is its port.
	register []string
}{
	{"echo-v1", "echo", []string{"--address", "127.0.0.1", "--service", "echo", "--port", "grpc=%s", "--label", "app=echo", "--label", "version=v1"}},
	{"echo-v2", "echo", []string{"--address", "127.0.0.1", "--service", "echo", "--port", "grpc=%s", "--label", "app=echo", "--label", "version=v2"}},
	{"echo-client", "echo-client", nil},
}

// setUp starts the replicas, applies the quickstart, and starts the
// agents, the echo servers and the client.
func (d *demo) setUp(ctx context.Context, examples string) error {
	d.step("Starting three embassy-cp replicas, each running a member of one etcd cluster (--etcd-embedded)")
	if err := d.newReplicas(3); err != nil {
		return err
	}
	for _, r := range d.replicas {
		if err := d.startReplica(r); err != nil {
			return err
		}
	}
	for _, r := range d.replicas {
		if err := r.serving(90 * time.Second); err != nil {
			return err
		}
		d.say("%s: xDS %s, API http://%s, etcd client %s, data %s", r.name, r.xds, r.api, r.etcdURL, r.dataDir)
	}
	leader, err := d.awaitEtcdLeader(ctx)
	if err != nil {
		return err
	}
	// The proxyless apps list first a replica that does not lead etcd,
	// and the agents the one that does, so that each kill hits some of
	// the fleet.
	d.first = d.replicas[(indexOf(d.replicas, leader)+1)%len(d.replicas)]
	d.appsXDS = d.orderedFrom(d.first)
	d.agentsXDS = d.orderedFrom(leader)
	// The control planes elect their leader through etcd once it has one.
	within(10*time.Second, func() bool { return d.cpLeader() != nil })
	d.say("etcd leader: %s; control-plane leader: %s", leader.name, nameOf(d.cpLeader()))
	d.say("the apps' bootstraps list %s (%s first); the agents' --cp %s (%s first)", d.appsXDS, d.first.name, d.agentsXDS, leader.name)

	d.step("Applying examples/quickstart (but its Workloads, which the servers' agents register) on %s", d.replicas[2].name)
	if err := d.applyQuickstart(examples, d.replicas[2]); err != nil {
		return err
	}
	if err := d.startApps(); err != nil {
		return err
	}
	d.step("Steady traffic: the proxyless client calls xds:///echo.default:50051 (Route: 80%% v1, 20%% v2), 2 at a time")
	p, err := d.start("client", "echo-client", "--bootstrap", filepath.Join(d.work, "echo-client.json"), "--target", "xds:///echo.default:50051",
		"--json", "--interval", "500ms", "--duration", "100s", "--concurrency", "2")
	if err != nil {
		return err
	}
	d.client = &traffic{p: p}
	return nil
}

// applyQuickstart applies every quickstart file but echo.yaml's
// Workloads (an agent may not register a Workload an operator applied;
// echo.yaml's first document is the echo Service).
func (d *demo) applyQuickstart(examples string, r *replica) error {
	files, err := filepath.Glob(filepath.Join(examples, "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no quickstart in %s (%v): run the demo from the repository's root", examples, err)
	}
	var docs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		s := string(b)
		if filepath.Base(f) == "echo.yaml" {
			s, _, _ = strings.Cut(s, "\n---\n")
		}
		docs = append(docs, s)
	}
	path := filepath.Join(d.work, "quickstart.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(docs, "\n---\n")), 0o600); err != nil {
		return err
	}
	out, err := d.ctl(r, "apply", "-f", path)
	d.say("%s", strings.TrimSpace(strings.ReplaceAll(out, "\n", "\n    ")))
	return err
}

var servingModeRE = regexp.MustCompile(`serving mode SERVING`)

// startApps makes a single-use join token per app, each on another
// replica, starts its agent with every replica's address, writes the
// app's gRPC bootstrap listing every replica, and starts the echo
// servers.
func (d *demo) startApps() error {
	d.step("Join tokens (made on different replicas), and an embassy-agent per app with --cp %s", d.agentsXDS)
	bundle := filepath.Join(d.work, "bundle.pem")
	pem, err := d.ctl(d.replicas[0], "bundle")
	if err != nil {
		return err
	}
	if err := os.WriteFile(bundle, []byte(pem), 0o600); err != nil {
		return err
	}
	ports := map[string]string{}
	agents := map[string]*proc{}
	for i, a := range apps {
		tokenFile := filepath.Join(d.work, a.name+".token")
		if _, err := d.ctl(d.replicas[i%len(d.replicas)], "token", "create", "--namespace", "default", "--service-account", a.sa,
			"--workload", a.name, "--single-use", "--ttl", "10m", "--output", tokenFile); err != nil {
			return err
		}
		args := []string{"--cp", d.agentsXDS, "--token-file", tokenFile, "--trust-bundle", bundle, "--workload", a.name + ".default",
			"--socket-dir", filepath.Join(d.work, "agents", a.name)}
		if a.register != nil {
			addr, err := freeAddr()
			if err != nil {
				return err
			}
			ports[a.name] = addr
			for _, f := range a.register {
				args = append(args, strings.Replace(f, "%s", addr[strings.LastIndex(addr, ":")+1:], 1))
			}
		}
		if agents[a.name], err = d.start("agent-"+a.name, "embassy-agent", args...); err != nil {
			return err
		}
	}
	for _, a := range apps {
		dir := filepath.Join(d.work, "agents", a.name)
		if _, ok := within(20*time.Second, func() bool { _, err := os.Stat(filepath.Join(dir, "bundle.pem")); return err == nil }); !ok {
			return fmt.Errorf("the agent of %s wrote no certificate within 20s:\n%s", a.name, tail(agents[a.name].output()))
		}
		out, err := d.ctl(d.first, "bootstrap", "grpc", "--workload", a.name+".default", "--xds-address", d.appsXDS, "--cert-dir", dir)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d.work, a.name+".json"), []byte(out), 0o600); err != nil {
			return err
		}
		if a.register != nil {
			if _, err := agents[a.name].waitFor(registeredRE, 30*time.Second); err != nil {
				return err
			}
		}
		d.say("%s: SVID in %s", a.name, dir)
	}
	return d.startServers(ports)
}

// startServers starts the xDS-enabled echo servers, which have their
// agents decide each call.
func (d *demo) startServers(ports map[string]string) error {
	d.step("Starting echo v1 (%s) and echo v2 (%s) as xDS-enabled gRPC servers", ports["echo-v1"], ports["echo-v2"])
	var servers []*proc
	for _, a := range apps[:2] {
		v := strings.TrimPrefix(a.name, "echo-")
		p, err := d.start("server-"+v, "echo-server", "--xds", "--bootstrap", filepath.Join(d.work, a.name+".json"),
			"--addr", ports[a.name], "--name", v, "--authz-socket", filepath.Join(d.work, "agents", a.name, "authz.sock"))
		if err != nil {
			return err
		}
		servers = append(servers, p)
	}
	for _, p := range servers {
		if _, err := p.waitFor(servingModeRE, 30*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// orderedFrom lists every replica's xDS address, first's first.
func (d *demo) orderedFrom(first *replica) string {
	addrs := []string{first.xds}
	for _, r := range d.replicas {
		if r != first {
			addrs = append(addrs, r.xds)
		}
	}
	return strings.Join(addrs, ",")
}

func indexOf(rs []*replica, r *replica) int {
	for i, x := range rs {
		if x == r {
			return i
		}
	}
	return -1
}

// nameOf is r's name, or "none".
func nameOf(r *replica) string {
	if r == nil {
		return "none"
	}
	return r.name
}
