package agent

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

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
}

// Run registers until ctx is done, then deregisters with a fresh
// deadline (the agent is shutting down, not the control plane). A failed
// refresh is logged and retried at the next tick: the lease outlives two
// missed refreshes.
func (r *Registrar) Run(ctx context.Context) {
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
		cctx, cancel := context.WithTimeout(ctx, timeout)
		resp, err := r.ControlPlane.Register(cctx, r.Name, r.Spec)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("registering the workload failed; retrying", "workload", r.Name, "error", err, "in", interval)
		case err == nil && !registered:
			log.Info("workload registered", "workload", r.Name, "lease", time.Duration(resp.LeaseSeconds)*time.Second)
			registered = true
		}
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if err := r.ControlPlane.Deregister(dctx, r.Name); err != nil {
				log.Warn("deregistering the workload failed; its lease will lapse", "workload", r.Name, "error", err)
				return
			}
			log.Info("workload deregistered", "workload", r.Name)
			return
		case <-tick.C:
		}
	}
}
