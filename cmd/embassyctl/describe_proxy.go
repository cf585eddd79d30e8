package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/status"
)

func init() { registerDescribe(newDescribeProxyCmd) }

func newDescribeProxyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "proxy ID",
		Short: "What a proxy runs and why: its identity, the resources that shape it, its sync state",
		Long: `describe proxy explains one proxy (node id "<workload>.<namespace>"): its
identity, the Workload and the services it backs, the Routes,
TrafficPolicies and AuthorizationPolicies that apply to those services (and
so to its inbound side), how many Routes shape its outbound side, which
services it is sent under the Mesh's configScoping and why ("+" sent,
"-" left out: not in its spec.egress, or no AuthorizationPolicy of the
service can allow its identity), and, when it is connected, its sync
state per xDS type.`,
		Example: `  embassyctl describe proxy echo-1.default`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var all []*resource.Resource
			var rev int64
			for _, k := range resource.Kinds {
				rs, r, err := c.List(cmd.Context(), string(k), "")
				if err != nil {
					return err
				}
				all, rev = append(all, rs...), max(rev, r)
			}
			proxies, err := c.Proxies(cmd.Context())
			if err != nil {
				return err
			}
			var px *status.Proxy
			for i := range proxies {
				if proxies[i].ID == args[0] {
					px = &proxies[i]
				}
			}
			snap, err := scopedSnapshot(cmd.Context(), c, rev, all)
			if err != nil {
				return err
			}
			return describeProxy(g.stdout, args[0], snap, px)
		},
	}
}

// describeProxy writes what the stored resources say about a proxy and,
// when connected, what it acknowledged.
func describeProxy(w io.Writer, id string, snap *mesh.Snapshot, px *status.Proxy) error {
	name, ns, err := dataplane.ParseNodeID(id)
	wl := (*mesh.Workload)(nil)
	if err == nil {
		wl = snap.Workload(ns, name)
	}
	if wl == nil && px == nil {
		return errors.New("proxy " + id + " is not connected and names no Workload (node ids are <workload>.<namespace>)")
	}
	fmt.Fprintf(w, "Proxy:      %s\n", id)
	if px != nil {
		fmt.Fprintf(w, "Connected:  since %s (%s, %s xDS)\n", px.ConnectedSince.Format(time.RFC3339), px.Flavour, px.XDS)
	} else {
		fmt.Fprintln(w, "Connected:  no")
	}
	sa := "default"
	if wl != nil && wl.Spec.ServiceAccount != "" {
		sa = wl.Spec.ServiceAccount
	}
	identity := dataplane.WorkloadIDString(snap.Mesh.TrustDomain, ns, sa)
	if px != nil && px.Identity != "" {
		identity = px.Identity + " (from its certificate)"
	}
	fmt.Fprintf(w, "Identity:   %s\n", identity)
	fmt.Fprintf(w, "mTLS:       %s\n", snap.Mesh.MTLS.Mode)
	if wl == nil {
		fmt.Fprintf(w, "Workload:   none stored as %s/%s: the proxy gets only the shared outbound configuration\n", ns, name)
	} else {
		fmt.Fprintf(w, "Workload:   %s/%s at %s, backing %s\n", wl.Namespace, wl.Name, wl.Spec.Address, strings.Join(wl.Spec.Services, ", "))
		describeInbound(w, snap, wl)
	}
	fmt.Fprintf(w, "Outbound:   %d Routes across the mesh shape the services it calls\n", len(snap.Routes))
	describeScope(w, snap, wl)
	if px != nil {
		describeSync(w, px)
	}
	return nil
}

func describeInbound(w io.Writer, snap *mesh.Snapshot, wl *mesh.Workload) {
	var routes, tps []string
	for _, svc := range wl.Spec.Services {
		ref := mesh.ServiceRef{Namespace: wl.Namespace, Name: svc}
		for _, r := range snap.RoutesFor(ref) {
			routes = append(routes, fmt.Sprintf("%s/%s (service %s, %d rules)", r.Namespace, r.Name, svc, len(r.Spec.Rules)))
		}
		if tp := snap.TrafficPolicyFor(ref); tp != nil {
			tps = append(tps, fmt.Sprintf("%s/%s (service %s)", tp.Namespace, tp.Name, svc))
		}
	}
	var aps []string
	for _, p := range snap.AuthorizationPoliciesFor(wl) {
		why := "selects its labels"
		for _, s := range p.Spec.Targets.Services {
			for _, b := range wl.Spec.Services {
				if s == b {
					why = "targets service " + s
				}
			}
		}
		aps = append(aps, fmt.Sprintf("%s/%s (%s; %s)", p.Namespace, p.Name, p.Mode, why))
	}
	list(w, "Routes", routes)
	list(w, "TrafficPolicies", tps)
	list(w, "AuthorizationPolicies", aps)
}

func list(w io.Writer, title string, items []string) {
	if len(items) == 0 {
		fmt.Fprintf(w, "%s: none\n", title)
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	for _, it := range items {
		fmt.Fprintf(w, "  %s\n", it)
	}
}

func describeSync(w io.Writer, px *status.Proxy) {
	p := *px
	p.Types = map[string]status.TypeStatus{}
	for k, v := range px.Types {
		p.Types[k] = v
	}
	// The server's judgement stands when it sent one: only it knows
	// whether an agent's Workload exists (NO_WORKLOAD).
	if p.SyncState == "" {
		status.Judge(&p, time.Now(), status.DefaultStaleAfter)
	}
	types := make([]string, 0, len(p.Types))
	for t := range p.Types {
		types = append(types, t)
	}
	sort.Strings(types)
	fmt.Fprintf(w, "Sync:       %s\n", p.SyncState)
	for _, t := range types {
		ts := p.Types[t]
		line := fmt.Sprintf("  %-60s %-8s sent %s acked %s", t, ts.SyncState, orDash(ts.VersionSent), orDash(ts.VersionAcked))
		if ts.SyncState == status.SyncNacked && ts.LastNack != nil {
			line += ": " + ts.LastNack.Message
		}
		fmt.Fprintln(w, line)
	}
}
