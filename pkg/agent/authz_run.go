package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/policy/extauthz"
)

// DefaultStatsInterval is how often authz-stats.json is rewritten and the
// counts are reported to the control plane.
const DefaultStatsInterval = 10 * time.Second

// PromptReportInterval is how soon a new deny, would-deny or error reaches
// the control plane, ahead of the next stats tick: the operator who just
// caused one (trying a dry-run policy) reads it in `embassyctl describe`
// and /v1/policies at once. Allows wait for the tick; they are the bulk.
const PromptReportInterval = time.Second

// AuthzConfig turns on the agent's authorization side: the policy stream
// from the control plane and the ext_authz server on authz.sock.
type AuthzConfig struct {
	// XDSAddress is the control plane's xDS address (--cp); the stream is
	// mTLS with the current SVID (DialPolicyXDS).
	XDSAddress string
	// Dial, instead of XDSAddress, connects as it likes (tests).
	Dial XDSDialFunc
	// LoopbackAddr, when set ("127.0.0.1:PORT"), serves Check on that
	// loopback port too.
	LoopbackAddr string
	// LogHeaderValues names the request headers whose values decision logs
	// show; every other header's value is redacted.
	LogHeaderValues []string
	// DecisionLogSample is the share of allowed decisions logged, from 0
	// (none) to 1 (all); every denial, would-deny and error is logged.
	DecisionLogSample float64
	// DecisionLogJSON, when set, is where the agent's logger writes JSON
	// lines (--log-json): decision lines are then encoded by hand and
	// written to it directly, one Write each, so its Writes must be
	// serialized with the logger's.
	DecisionLogJSON io.Writer
	// CheckTimeout bounds the evaluation of each Check, all policies
	// together; on timeout the Check is denied (extauthz.DefaultTimeout
	// when zero).
	CheckTimeout time.Duration
	// DecisionCacheSize bounds the decisions cached per policy revision;
	// zero turns the cache off (see extauthz.Options.CacheSize).
	DecisionCacheSize int
	// StatsInterval is how often AuthzStatsFile is rewritten and the counts
	// are reported to the control plane (default 10s).
	StatsInterval time.Duration
}

// Authz returns the agent's ext_authz server, or nil when Config.Authz was
// not set.
func (a *Agent) Authz() *Authz { return a.authz }

// newAuthz checks cfg and builds the Authz; the agent's logger named
// "authz" carries the decision logs.
func (a *Agent) newAuthz(cfg *AuthzConfig) error {
	if cfg.Dial == nil && cfg.XDSAddress == "" {
		return errors.New("authorization: no control plane xDS address")
	}
	if cfg.LoopbackAddr != "" {
		if _, err := loopbackPort(cfg.LoopbackAddr); err != nil {
			return err
		}
	}
	a.authz = NewAuthz(a.log.Named("authz"), cfg.DecisionLogJSON, cfg.LogHeaderValues, cfg.DecisionLogSample, cfg.CheckTimeout)
	a.authz.SetDecisionCache(cfg.DecisionCacheSize)
	return nil
}

// loopbackPort reads the port of "127.0.0.1:PORT" (or localhost): the
// Check server must not be reachable from other hosts.
func loopbackPort(addr string) (int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("--authz-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.Equal(net.IPv4(127, 0, 0, 1))) {
		return 0, fmt.Errorf("--authz-addr %q: the Check server listens on 127.0.0.1 only", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return 0, fmt.Errorf("--authz-addr %q: bad port", addr)
	}
	return port, nil
}

// startAuthz serves Check on authz.sock (and the loopback port), runs the
// policy stream, rewrites the stats file and reports the counts to the
// control plane; the returned function stops
// all of it, writes the stats a last time and removes the socket.
func (a *Agent) startAuthz(ctx context.Context) (stop func(), err error) {
	cfg := a.cfg.Authz
	var lis []net.Listener
	unix, err := extauthz.ListenUnix(a.cfg.SocketDir)
	if err != nil {
		return nil, fmt.Errorf("authorization socket: %w", err)
	}
	lis = append(lis, unix)
	if cfg.LoopbackAddr != "" {
		port, _ := loopbackPort(cfg.LoopbackAddr)
		l, err := extauthz.ListenLoopback(port)
		if err != nil {
			unix.Close()
			return nil, fmt.Errorf("--authz-addr %s: %w", cfg.LoopbackAddr, err)
		}
		lis = append(lis, l)
	}
	dial := cfg.Dial
	if dial == nil {
		dial = DialPolicyXDS(cfg.XDSAddress, a.cfg.TrustBundle)
	}
	client := NewPolicyClient(PolicyClientConfig{
		Node: a.cfg.Workload, Dial: dial, Identity: a.mgr, Authz: a.authz,
		Logger: a.log.Named("policy"), MinBackoff: a.cfg.MinBackoff, MaxBackoff: a.cfg.MaxBackoff,
	})
	interval := cfg.StatsInterval
	if interval <= 0 {
		interval = DefaultStatsInterval
	}

	actx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, l := range lis {
		wg.Go(func() {
			if err := a.authz.Serve(l); err != nil {
				a.log.Error("the authorization server stopped", "address", l.Addr().String(), "error", err)
			}
		})
	}
	wg.Go(func() { client.Run(actx) })
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		prompt := time.NewTicker(min(PromptReportInterval, interval))
		defer prompt.Stop()
		var reported uint64
		for {
			select {
			case <-actx.Done():
				return
			case <-tick.C:
				if err := a.authz.WriteStats(a.cfg.SocketDir); err != nil {
					a.log.Warn("writing the authorization stats failed", "error", err)
				}
				reported = a.authz.notAllowed()
				a.reportAuthz(actx)
			case <-prompt.C:
				if n := a.authz.notAllowed(); n != reported {
					reported = n
					a.reportAuthz(actx)
				}
			}
		}
	})
	fmt.Fprintf(a.cfg.Out, "embassy-agent: serving ext_authz on %s\n", unixOrBoth(lis))
	return func() {
		cancel()
		a.authz.Stop()
		wg.Wait()
		if err := a.authz.WriteStats(a.cfg.SocketDir); err != nil {
			a.log.Warn("writing the authorization stats failed", "error", err)
		}
		os.Remove(filepath.Join(a.cfg.SocketDir, dataplane.AuthzSocket))
	}, nil
}

func unixOrBoth(lis []net.Listener) string {
	if len(lis) == 1 {
		return lis[0].Addr().String()
	}
	return lis[0].Addr().String() + " and " + lis[1].Addr().String()
}

// reportAuthz sends the decision counts to the control plane, best effort:
// the counts are cumulative, so the next report makes up for a lost one.
// It runs beside Check, which never waits for it.
func (a *Agent) reportAuthz(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(a.cfg.CallTimeout, DefaultCallTimeout))
	defer cancel()
	if err := a.cfg.ControlPlane.ReportAuthz(ctx, a.authz.Report(a.cfg.Workload)); err != nil {
		a.log.Debug("reporting the authorization counts failed; the next report carries them", "error", err)
	}
}
