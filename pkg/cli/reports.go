package cli

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
)

// PrintStatus writes the control plane's status as "Key:  value" lines.
func PrintStatus(w io.Writer, st *apiwire.StatusResponse, o TableOptions) error {
	t := &table{gap: 2}
	add := func(k, v string) { t.rows = append(t.rows, []string{k + ":", v}) }
	add("Version", st.Version)
	add("Uptime", (time.Duration(st.UptimeSeconds) * time.Second).String())
	add("Store", fmt.Sprintf("%s at revision %d", st.Store.Kind, st.Store.Revision))
	add("Services", strconv.Itoa(st.Counts.Services))
	add("Workloads", strconv.Itoa(st.Counts.Workloads))
	add("Policies", strconv.Itoa(st.Counts.Policies))
	add("Connected proxies", strconv.Itoa(st.Counts.ConnectedProxies))
	if p := st.LastPush; p != nil {
		add("Last push", fmt.Sprintf("revision %d to %d proxies at %s, took %s", p.Revision, p.Proxies,
			p.Time.In(o.location()).Format(time.RFC3339), seconds(p.DurationSeconds)))
		for _, r := range p.Refused {
			add("Refused", refusalLine(r))
		}
	} else {
		add("Last push", "none yet")
	}
	for _, r := range st.Roots {
		state := "published"
		if r.Active {
			state = "active"
		}
		add("CA root", fmt.Sprintf("%s %s, expires %s (in %s)", truncate(r.Fingerprint, 17), state, r.NotAfter.In(o.location()).Format("2006-01-02"),
			(time.Duration(r.SecondsToExpiry)*time.Second).Truncate(time.Hour)))
	}
	return t.write(w, o)
}

// refusalLine says what a push refused to serve, to whom, and the
// inputs that produced it.
func refusalLine(r events.Refusal) string {
	var res []string
	for _, p := range r.Problems {
		if !slices.Contains(res, p.Resource) {
			res = append(res, p.Resource)
		}
	}
	line := fmt.Sprintf("%s to %s (keep their previous set)", strings.Join(res, ", "), strings.Join(r.Proxies, ", "))
	if len(r.Inputs) > 0 {
		line += fmt.Sprintf("; inputs changed since revision %d: %s", r.Since, strings.Join(r.Inputs, ", "))
		if r.MoreInputs > 0 {
			line += fmt.Sprintf(" and %d more", r.MoreInputs)
		}
	}
	return line
}

// seconds renders a duration in seconds to the microsecond.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond)
}

// PrintEvents writes one line per event: its time, kind and what it says.
func PrintEvents(w io.Writer, evs []events.Event, o TableOptions) error {
	for _, e := range evs {
		if err := PrintEvent(w, e, o); err != nil {
			return err
		}
	}
	return nil
}

// PrintEvent writes one event as a line, cut to o.Width with "…" (the
// line is not a table: followed events arrive one by one).
func PrintEvent(w io.Writer, e events.Event, o TableOptions) error {
	width := 8
	if e.Replica != "" {
		// A fleet's events have longer kinds (disconnect).
		width = 10
	}
	kind := fmt.Sprintf("%-*s", width, e.Kind)
	if o.Colour {
		if c := stateColour(e.Kind); c != "" {
			kind = c + kind + ansiReset
		}
	}
	var rest string
	switch e.Kind {
	case events.KindNack:
		rest = fmt.Sprintf(" %s %s: %s", e.Proxy, e.Type, e.Message)
	case events.KindPush:
		rest = fmt.Sprintf(" revision %d to %d proxies in %s", e.Revision, e.Proxies, seconds(e.DurationSeconds))
	case events.KindConnect, events.KindDisconnect:
		rest = fmt.Sprintf(" %s: %s", e.Proxy, e.Message)
	case events.KindAck:
		rest = fmt.Sprintf(" revision %d by %d proxies in %s", e.Revision, e.Proxies, seconds(e.DurationSeconds))
	default:
		if e.Revision != 0 {
			rest += fmt.Sprintf(" revision %d", e.Revision)
		}
		for _, r := range e.Resources {
			rest += " " + r + ";"
		}
		if e.Message != "" {
			rest += " " + e.Message
		}
	}
	head := e.Time.In(o.location()).Format("15:04:05.000") + "  "
	if e.Replica != "" {
		// Several replicas share an etcd store: say whose event it is.
		head += e.Replica + "  "
	}
	if o.Width > 0 {
		rest = truncate(rest, max(o.Width-len(head)-max(width, len(e.Kind)), minColumnWidth))
	}
	_, err := fmt.Fprintln(w, head+kind+rest)
	return err
}

// PrintTokens writes one row per join token with its state (never its
// secret, which the server does not keep).
func PrintTokens(w io.Writer, ts []identity.TokenInfo, now time.Time, o TableOptions) error {
	t := &table{headers: []string{"ID", "NAMESPACE", "SERVICE-ACCOUNT", "WORKLOAD", "SERVICES", "STATE", "USES", "EXPIRES"}, gap: 2,
		paint: func(col int, cell string) string {
			if col == 5 {
				return stateColour(cell)
			}
			return ""
		}}
	for _, tok := range ts {
		exp := "never"
		if tok.ExpiresAt != nil {
			exp = tok.ExpiresAt.In(o.location()).Format(time.RFC3339)
		}
		t.rows = append(t.rows, []string{tok.ID, tok.Namespace, tok.ServiceAccount, orDash(strings.TrimSpace(tok.Workload)),
			orDash(strings.Join(tok.Services, ",")), TokenState(tok, now), strconv.Itoa(tok.Uses), exp})
	}
	return t.write(w, o)
}

// TokenState says whether a token can still be redeemed, and if not why:
// valid, revoked, used or expired.
func TokenState(t identity.TokenInfo, now time.Time) string {
	switch {
	case t.Revoked:
		return "revoked"
	case t.SingleUse && t.Uses > 0:
		return "used"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	}
	return "valid"
}

// PrintCerts writes the SVIDs issued to agents, a blank line, the trust
// domain, and its roots.
func PrintCerts(w io.Writer, out *apiwire.CertificatesResponse, now time.Time, o TableOptions) error {
	certs := &table{headers: []string{"WORKLOAD", "SPIFFE-ID", "SERIAL", "EXPIRES-IN", "LAST-ROTATION"}, gap: 2}
	for _, c := range out.Certificates {
		certs.rows = append(certs.rows, []string{orDash(strings.TrimSpace(c.Workload)), c.SPIFFEID, c.Serial,
			c.NotAfter.Sub(now).Round(time.Second).String(), c.IssuedAt.In(o.location()).Format(time.RFC3339)})
	}
	if err := certs.write(w, o); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "\nTRUST-DOMAIN %s\n", out.TrustDomain); err != nil {
		return err
	}
	roots := &table{headers: []string{"ROOT-SHA256", "STATE", "NOT-AFTER", "SUBJECT"}, gap: 2,
		paint: func(col int, cell string) string {
			if col == 1 {
				return stateColour(cell)
			}
			return ""
		}}
	for _, r := range out.Roots {
		state := "published"
		switch {
		case r.Source != "":
			// Another CA's root (SPIRE's): trusted, rotated there.
			state = r.Source
		case r.Active:
			state = "active"
		case !r.RetireAfter.IsZero():
			state = "retiring " + r.RetireAfter.In(o.location()).Format(time.RFC3339)
		}
		roots.rows = append(roots.rows, []string{r.Fingerprint, state, r.NotAfter.In(o.location()).Format(time.RFC3339), r.Subject})
	}
	return roots.write(w, o)
}

// PrintPolicies writes one row per AuthorizationPolicy: its revision,
// mode, how it is enforced ("error" when it does not compile), how many
// workloads it targets and how many of their proxies ACKed it.
func PrintPolicies(w io.Writer, res *apiwire.PoliciesResponse, o TableOptions) error {
	t := &table{headers: []string{"NAMESPACE", "NAME", "REVISION", "MODE", "ENFORCEMENT", "WORKLOADS", "ACKED"}, gap: 2,
		paint: func(col int, cell string) string {
			if col == 3 || col == 4 {
				return stateColour(cell)
			}
			return ""
		}}
	for _, p := range res.Policies {
		t.rows = append(t.rows, []string{p.Namespace, p.Name, orDash(p.Revision), p.Mode, enforcement(p),
			strconv.Itoa(len(p.Workloads)), fmt.Sprintf("%d/%d", ackedCurrent(p), len(p.Proxies))})
	}
	return t.write(w, o)
}

// enforcement is how a policy runs: rbac, ext_authz, or error when its
// Rego does not compile.
func enforcement(p apiwire.PolicyStatus) string {
	if !p.Compiled {
		return "error"
	}
	return p.Enforcement
}

// ackedCurrent counts the proxies that ACKed the policy's current revision.
func ackedCurrent(p apiwire.PolicyStatus) int {
	n := 0
	for _, px := range p.Proxies {
		if px.Current {
			n++
		}
	}
	return n
}
