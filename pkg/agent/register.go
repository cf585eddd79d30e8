package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/resource"
)

// DefaultRegisterInterval is how often the agent refreshes its Workload;
// the control plane's lease is three times as long.
const DefaultRegisterInterval = 10 * time.Second

// Registrar keeps the workload registered with the control plane: it calls
// Register at once and every Interval, and Deregister when stopped.
type Registrar struct {
	ControlPlane ControlPlane
	// Name is the Workload's name; the control plane takes its namespace
	// and service account from the agent's certificate.
	Name string
	Spec resource.WorkloadSpec
	// Interval defaults to DefaultRegisterInterval; CallTimeout to
	// DefaultCallTimeout.
	Interval, CallTimeout time.Duration
	Logger                hclog.Logger
	// Identities, when set, makes a new SVID register at once, so the
	// control plane's record of the agent's certificate (the status API's)
	// follows a rotation it did not sign, such as SPIRE's.
	Identities IdentityWatcher
}

// Run registers until ctx is done, then deregisters with a fresh
// deadline (the agent is shutting down, not the control plane). A failed
// refresh is logged and retried at the next tick: the lease outlives two
// missed refreshes. A first registration the control plane refuses as not
// allowed or not valid ends Run at once with an error saying why: the
// agent's flags or token cannot work. A registration the control plane
// refuses as FailedPrecondition (the Workload was applied by an operator)
// is logged once, and Run stops registering until ctx is done, without
// deregistering what it never held.
func (r *Registrar) Run(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = DefaultRegisterInterval
	}
	timeout := r.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	log := r.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	registered := false
	for {
		var presented *x509svid.SVID
		if r.Identities != nil {
			cur, _ := r.Identities.Watch()
			presented = cur.SVID
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		resp, err := r.ControlPlane.Register(cctx, r.Name, r.Spec)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && !registered && permanentRegisterRefusal(err):
			return fmt.Errorf("the control plane refused to register workload %q: %s: fix the agent's --workload, --service, --address and --port flags, "+
				"or its join token's identity", r.Name, status.Convert(err).Message())
		case err != nil && ctx.Err() == nil && status.Code(err) == codes.FailedPrecondition:
			// An operator applied this Workload (or the control plane
			// otherwise keeps it out of agents' hands): it is served as
			// applied, so retrying every interval would only repeat the
			// refusal. The agent goes on serving its identity and policies.
			log.Info("the control plane does not take this agent's registration; the Workload stays as it is and the agent stops registering it",
				"workload", r.Name, "reason", status.Convert(err).Message())
			<-ctx.Done()
			return nil
		case err != nil && ctx.Err() == nil:
			log.Warn("registering the workload failed; retrying", "workload", r.Name, "error", err, "in", interval)
		case err == nil && !registered:
			log.Info("workload registered", "workload", r.Name, "lease", time.Duration(resp.LeaseSeconds)*time.Second)
			registered = true
		}
		if !r.wait(ctx, tick.C, presented) {
			dctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if err := r.ControlPlane.Deregister(dctx, r.Name); err != nil {
				log.Warn("deregistering the workload failed; its lease will lapse", "workload", r.Name, "error", err)
				return nil
			}
			log.Info("workload deregistered", "workload", r.Name)
			return nil
		}
	}
}

// wait returns true when the next registration is due: at the next tick,
// or as soon as the SVID is not presented any more. It returns false when
// ctx is done.
func (r *Registrar) wait(ctx context.Context, tick <-chan time.Time, presented *x509svid.SVID) bool {
	for {
		var changed <-chan struct{}
		if r.Identities != nil {
			var cur *Identity
			cur, changed = r.Identities.Watch()
			if cur.SVID != nil && cur.SVID != presented {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick:
			return true
		case <-changed:
		}
	}
}
