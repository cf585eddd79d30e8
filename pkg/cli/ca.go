package cli

import (
	"fmt"
	"io"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/identity"
)

// PrintCARoots writes the trust domain and one row per root of its
// bundle, oldest first: which root signs, when a published root starts
// signing, when a superseded one leaves the bundle, and when it expires.
// NOT-AFTER is a date, which is what matters for a root that lives years,
// so the table fits an 80-column terminal.
func PrintCARoots(w io.Writer, out *apiwire.CARootsResponse, o TableOptions) error {
	if _, err := fmt.Fprintf(w, "TRUST-DOMAIN %s\n", out.TrustDomain); err != nil {
		return err
	}
	t := &table{headers: []string{"FINGERPRINT", "ACTIVE", "SIGNS-FROM", "RETIRE-AFTER", "NOT-AFTER"}, gap: 2,
		paint: func(col int, cell string) string {
			if col == 1 && cell == "yes" {
				return ansiGreen
			}
			return ""
		}}
	for _, r := range out.Roots {
		active := "no"
		switch {
		case r.Source != "":
			active = r.Source
		case r.Active:
			active = "yes"
		}
		t.rows = append(t.rows, []string{apiwire.ShortFingerprint(r.Fingerprint), active, timeOrDash(r.SignsFrom, o),
			timeOrDash(r.RetireAfter, o), r.NotAfter.In(o.location()).Format(time.DateOnly)})
	}
	return t.write(w, o)
}

// PrintCARotation writes what a rotation did, then the roots after it.
// The new root is the last: roots are ordered by when they sign.
func PrintCARotation(w io.Writer, out *apiwire.CARootsResponse, now time.Time, o TableOptions) error {
	if len(out.Roots) > 0 {
		r := out.Roots[len(out.Roots)-1]
		if _, err := fmt.Fprintf(w, "published root %s: it is in the trust bundle now and signs from %s%s\n\n",
			apiwire.ShortFingerprint(r.Fingerprint), timeOrDash(r.SignsFrom, o), untilNote(r, now)); err != nil {
			return err
		}
	}
	return PrintCARoots(w, out, o)
}

// untilNote says how long a published root waits before it signs.
func untilNote(r identity.RootInfo, now time.Time) string {
	if r.Active || !r.SignsFrom.After(now) {
		return ""
	}
	return " (in " + r.SignsFrom.Sub(now).Round(time.Second).String() + ")"
}

// timeOrDash renders t in o's zone, or "-" when it is unset.
func timeOrDash(t time.Time, o TableOptions) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(o.location()).Format(time.RFC3339)
}
