package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/rollout"
)

// waitPoll is how often apply --wait asks how the change is doing.
var waitPoll = 200 * time.Millisecond

// waitForChange polls the change until every proxy it affects has acked
// it, one rejected it, or timeout passes; it fails naming the proxies that
// rejected it or did not answer.
func waitForChange(ctx context.Context, g *globals, c *client.Client, id string, timeout time.Duration) error {
	if id == "" {
		fmt.Fprintln(g.stdout, "nothing changed: no proxy to wait for")
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *rollout.Change
	for {
		ch, err := c.Change(ctx, id)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil {
			last = ch
			if ch.State != rollout.Pending {
				break
			}
		}
		if !pause(ctx) {
			break
		}
	}
	return reportChange(g, id, last, timeout)
}

// reportChange says how the change went, or fails naming what it still
// waits for: replicas that have not pushed it, proxies that rejected it
// or did not answer, each with its replica when several share a store.
func reportChange(g *globals, id string, ch *rollout.Change, timeout time.Duration) error {
	if ch == nil || (!ch.Pushed && ch.PushedAt.IsZero()) {
		return &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("change %s was not pushed to the proxies within %s", id, timeout)}
	}
	var nacked, pending []string
	for _, p := range ch.Proxies {
		switch p.State {
		case rollout.Nacked:
			nacked = append(nacked, fmt.Sprintf("%s (%s)", proxyOn(p), p.Message))
		case rollout.Pending:
			pending = append(pending, proxyOn(p))
		}
	}
	sort.Strings(nacked)
	sort.Strings(pending)
	if ch.State == rollout.Converged {
		fmt.Fprintln(g.stdout, converged(id, ch))
		return nil
	}
	var msgs []string
	if len(nacked) > 0 {
		msgs = append(msgs, "rejected by "+strings.Join(nacked, ", "))
	}
	if len(pending) > 0 {
		msgs = append(msgs, fmt.Sprintf("no answer within %s from %s", timeout, strings.Join(pending, ", ")))
	}
	if rs := unpushed(ch); len(rs) > 0 && ch.State != rollout.Failed {
		msgs = append(msgs, fmt.Sprintf("not pushed within %s by replica %s", timeout, strings.Join(rs, ", ")))
	}
	return &cli.ExitError{Code: cli.ExitFailure, Err: errors.New("change " + id + ": " + strings.Join(msgs, "; "))}
}

// proxyOn names a proxy, and its replica when several share a store.
func proxyOn(p rollout.Proxy) string {
	if p.Replica == "" {
		return p.ID
	}
	return p.ID + " on replica " + p.Replica
}

// unpushed lists the replicas that remember the change but have not
// pushed it to their proxies yet.
func unpushed(ch *rollout.Change) []string {
	var out []string
	for _, r := range ch.Replicas {
		if r.Known && !r.Pushed {
			out = append(out, r.Replica)
		}
	}
	return out
}

// converged says how a change that needs no more answers went. With no
// affected proxy connected there was nothing to wait for, which is not
// the same as every proxy having acknowledged it at once.
func converged(id string, ch *rollout.Change) string {
	on := ""
	if len(ch.Replicas) > 1 {
		on = fmt.Sprintf(" (a fleet of %d replicas)", len(ch.Replicas))
	}
	switch len(ch.Proxies) {
	case 0:
		return fmt.Sprintf("change %s: no connected proxy is affected by it%s; proxies that connect later are sent it when they do", id, on)
	case 1:
		return fmt.Sprintf("change %s: 1 proxy acknowledged it in %.3fs%s", id, ch.ConvergenceSeconds, on)
	}
	return fmt.Sprintf("change %s: %d proxies acknowledged it in %.3fs%s", id, len(ch.Proxies), ch.ConvergenceSeconds, on)
}

// pause waits one poll interval; it is false once ctx is done.
func pause(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(waitPoll):
		return true
	}
}
