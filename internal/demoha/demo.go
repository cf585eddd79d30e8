// Package demoha is `make demo-ha`: three embassy-cp replicas, each
// running a member of one etcd cluster (--etcd-embedded), serving the
// quickstart to agents and proxyless gRPC apps under steady traffic,
// while it kills -9 the replica the apps are connected to and then the
// replica whose member leads etcd. It prints what an operator would
// want to know: calls made and failed, when writes resumed, when a
// change applied after each kill reached every proxy, and which
// replicas lead etcd and the control planes.
//
// The apps' bootstraps and the agents' --cp list every replica, the
// same one first: gRPC's xDS client and the agents connect to the first
// that answers.
package demoha

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Config is what a run needs.
type Config struct {
	// Bin holds embassy-cp, embassyctl, embassy-agent, echo-server and
	// echo-client.
	Bin string
	// Examples is the quickstart's directory (examples/quickstart).
	Examples string
	// Out receives the demo's report.
	Out io.Writer
}

// Result is what the demo observed.
type Result struct {
	Calls, Failed int
	Kills         []Kill
}

// Kill is what one kill -9 cost and how the fleet recovered.
type Kill struct {
	// Victim is the replica killed, and why it was chosen.
	Victim, Why string
	// Refused counts the applies refused (503) before one was acknowledged.
	Refused int
	// WritesResumed is from the kill to the first acknowledged apply.
	WritesResumed time.Duration
	// Reconnected is from the kill to every proxy connected to a live
	// replica.
	Reconnected time.Duration
	// Converged is from the kill to every proxy following the change
	// applied after it; zero when it did not within the demo's bound.
	Converged time.Duration
	// Restarted says whether the demo restarted the victim before the
	// fleet converged, and when (from the kill).
	Restarted   bool
	RestartedAt time.Duration
	// EtcdLeader and CPLeader lead after the kill.
	EtcdLeader, CPLeader string
	// Failed is the calls failed from the kill to the end of its phase.
	Calls, Failed int
}

// demo is one run's state.
type demo struct {
	bin, work string
	env       []string
	out       io.Writer
	began     time.Time
	// mu guards procs, which an interrupt's cleanup reads while the demo
	// may still start processes.
	mu       sync.Mutex
	procs    []*proc
	replicas []*replica
	// first is the replica the apps' bootstraps list first.
	first *replica
	// appsXDS and agentsXDS list every replica's xDS address, in the
	// order of the apps' bootstraps and of the agents' --cp.
	appsXDS, agentsXDS string
	client             *traffic
}

// Run runs the demo and removes everything it started when it returns
// or ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	work, err := os.MkdirTemp("", "embassy-demo-ha.")
	if err != nil {
		return nil, err
	}
	d := &demo{bin: cfg.Bin, work: work, out: cfg.Out, began: time.Now(), env: os.Environ()}
	defer d.cleanup()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			d.cleanup()
		case <-stop:
		}
	}()
	if err := d.setUp(ctx, cfg.Examples); err != nil {
		return nil, err
	}
	go d.client.follow(stop)
	if err := d.awaitTraffic(); err != nil {
		return nil, err
	}
	res := &Result{}
	k1, err := d.killPhase(ctx, d.first, "the proxyless apps' xDS server", split(20), true)
	if err != nil {
		return nil, err
	}
	leader, err := d.awaitEtcdLeader(ctx)
	if err != nil {
		return nil, err
	}
	k2, err := d.killPhase(ctx, leader, "its etcd member leads etcd", split(80), false)
	if err != nil {
		return nil, err
	}
	res.Kills = []Kill{*k1, *k2}
	d.client.read()
	res.Calls, res.Failed, _ = d.client.totals()
	d.summary(res)
	return res, nil
}

// cleanup stops every process the demo started and removes its
// directory; it may run twice.
func (d *demo) cleanup() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.procs {
		_ = p.cmd.Process.Signal(os.Interrupt)
	}
	for _, p := range d.procs {
		p.stop()
	}
	_ = os.RemoveAll(d.work)
}

// step prints a heading with the time since the demo began.
func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, "\n==> [%5.1fs] %s\n", time.Since(d.began).Seconds(), fmt.Sprintf(format, args...))
}

// say prints one line under a step.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "    "+format+"\n", args...)
}

// ctlRetry bounds how long ctl sends a command again while the store
// answers that etcd is busy: on a loaded machine a request can outlast
// the replicas' --etcd-timeout without anything being wrong.
const ctlRetry = 20 * time.Second

// ctl runs embassyctl against r and returns its standard output. A
// command refused because etcd did not answer in time is sent again, for
// at most ctlRetry: every command the demo sends is safe to repeat.
func (d *demo) ctl(r *replica, args ...string) (string, error) {
	began := time.Now()
	for {
		cmd := exec.Command(filepath.Join(d.bin, "embassyctl"), args...)
		cmd.Env = append(os.Environ(), "EMBASSY_SERVER=http://"+r.api, "EMBASSY_TOKEN_FILE="+filepath.Join(r.dataDir, "admin-token"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			return string(out), nil
		}
		if strings.Contains(stderr.String(), "does not answer or has no quorum") && time.Since(began) < ctlRetry {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		return "", fmt.Errorf("embassyctl %s on %s: %v: %s", strings.Join(args, " "), r.name, err, stderr.String())
	}
}

// within polls cond every 100 ms until it holds or d passes, and
// returns how long it took; ok is false when it never held.
func within(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start), true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), cond()
}

// awaitEtcdLeader waits, at most 10 s, for the live members to name a
// leader.
func (d *demo) awaitEtcdLeader(ctx context.Context) (*replica, error) {
	var l *replica
	var err error
	if _, ok := within(10*time.Second, func() bool { l, err = d.etcdLeader(ctx); return err == nil }); !ok {
		return nil, fmt.Errorf("the etcd members named no leader within 10s: %w", err)
	}
	return l, nil
}

// awaitTraffic waits, at most 20 s, for the client's first interval
// without a failure, then lets traffic run for 2 s.
func (d *demo) awaitTraffic() error {
	if _, ok := within(20*time.Second, func() bool {
		d.client.read()
		ivs := d.client.since(time.Time{})
		return len(ivs) > 0 && ivs[len(ivs)-1].Total > 0 && ivs[len(ivs)-1].Errors == 0
	}); !ok {
		return errors.New("the proxyless client made no successful call within 20s; its output:\n" + tail(d.client.p.output()))
	}
	time.Sleep(2 * time.Second)
	calls, failed, _ := d.client.totals()
	d.say("steady traffic: %d calls so far, %d failed", calls, failed)
	return nil
}

// registeredRE is an agent's log line once it registered its Workload.
var registeredRE = regexp.MustCompile(`workload registered`)
