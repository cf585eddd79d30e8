package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"embassy.dev/embassy/internal/poll"
)

// dashPage is one page of the dashboard: its route, what must be on it
// once drawn, and the screenshot's name.
type dashPage struct {
	route, name string
	// ready is a selector that matches only once the page shows what the
	// test caused.
	ready string
	// check, when set, asserts more of the drawn page.
	check func(t *testing.T, b *browser)
}

// TestDashboard runs a mesh (a proxyless server, agents, a proxy that
// NACKs, a dry-run policy that would deny the POSTs the test sends) and
// opens every page of /ui in headless Chromium the way an operator
// would, with the read token typed into the page. Each page must show
// what the test caused, with no error, warning or exception in the
// console; the events page must show an apply made after it loaded,
// delivered by the live stream. Each page is saved as a screenshot.
func TestDashboard(t *testing.T) {
	b := newBrowser(t)
	m := startDashboardMesh(t)
	denied := m.causeWouldDeny(t)
	m.awaitWouldDeny(t, uint64(denied))
	poll.Until(t, "the NACK of nacker.default in /v1/proxies", func() bool { return m.hasNack(t) })
	shots := screenshotDir(t)
	base := "http://" + m.cp.api + "/ui/"

	// Without anonymous reads the page asks for a token: the API's 401s
	// before it is typed in are the only console errors allowed.
	b.do(t, "the token form", chromedp.Navigate(base), chromedp.WaitVisible("#token-form"))
	start := b.mark()
	for _, e := range b.errorsIn(0, start) {
		if !strings.Contains(e, "status of 401") {
			t.Errorf("console before the token was typed in: %s", e)
		}
	}
	b.do(t, "typing the read token", chromedp.SendKeys("#token", m.readToken), chromedp.Click(`#token-form button[type="submit"]`),
		chromedp.WaitVisible(`main[data-page="graph"][data-state="ready"] svg.graph`), chromedp.WaitNotVisible("#token-form"))

	for _, p := range dashPages(m) {
		t.Run(p.name, func(t *testing.T) {
			mark := b.mark()
			b.do(t, "opening "+p.route, chromedp.Navigate(base+p.route), chromedp.WaitVisible(p.ready))
			if p.check != nil {
				p.check(t, b)
			}
			b.screenshot(t, shots, p.name)
			if errs := b.errorsSince(mark); len(errs) > 0 {
				t.Errorf("console of %s:\n%s", p.route, strings.Join(errs, "\n"))
			}
		})
	}

	var rev int64
	t.Run("live events", func(t *testing.T) {
		mark := b.mark()
		b.do(t, "opening the events page", chromedp.Navigate(base+"#/events"),
			chromedp.WaitVisible(`main[data-page="events"][data-state="ready"]`), chromedp.WaitVisible(`#stream[data-state="live"]`))
		rev = m.applyLive(t, "dash-live")
		applied := time.Now()
		b.do(t, "the apply's event on the open page", chromedp.WaitVisible(fmt.Sprintf(`tr[data-kind="apply"][data-revision="%d"]`, rev)))
		t.Logf("the apply of revision %d showed on the open events page %s after the API answered", rev, time.Since(applied).Round(time.Millisecond))
		if got := b.text(t, fmt.Sprintf(`tr[data-kind="apply"][data-revision="%d"]`, rev)); !strings.Contains(got, "Service/default/dash-live") {
			t.Errorf("the apply's row reads %q, want the Service it created", got)
		}
		b.screenshot(t, shots, "events")
		if errs := b.errorsSince(mark); len(errs) > 0 {
			t.Errorf("console of the events page:\n%s", strings.Join(errs, "\n"))
		}
	})

	// The apply gave nacker.default a new Cluster, which it rejects: the
	// change's rollout fails, naming the proxy and its reason.
	t.Run("rollouts", func(t *testing.T) {
		if rev == 0 {
			t.Fatal("the live apply did not happen")
		}
		mark := b.mark()
		row := fmt.Sprintf(`tr[data-change="c-%d"]`, rev)
		b.do(t, "opening the rollouts", chromedp.Navigate(base+"#/rollouts"), chromedp.WaitVisible(row+` .badge[data-state="failed"]`))
		if got := b.text(t, row); !strings.Contains(got, "nacker.default") || !strings.Contains(got, nackMessage) {
			t.Errorf("the rollout of c-%d reads %q, want nacker.default's rejection", rev, got)
		}
		b.screenshot(t, shots, "rollouts")
		if errs := b.errorsSince(mark); len(errs) > 0 {
			t.Errorf("console of the rollouts page:\n%s", strings.Join(errs, "\n"))
		}
	})

	if errs := b.errorsSince(start); len(errs) > 0 {
		t.Errorf("console after the token was typed in:\n%s", strings.Join(errs, "\n"))
	}
}

// dashPages are the pages TestDashboard opens, with what each must show.
func dashPages(m *dashboardMesh) []dashPage {
	webID := "spiffe://example.org/ns/default/sa/web"
	return []dashPage{
		{route: "#/graph", name: "mesh",
			ready: fmt.Sprintf(`g.edge.allowed[data-from=%q][data-to="echo.default"][data-mtls="STRICT"]`, clientAID),
			check: func(t *testing.T, b *browser) {
				// echo's enforced policy admits client-a only.
				b.do(t, "web's denied edge to echo", chromedp.WaitReady(fmt.Sprintf(`g.edge.denied[data-from=%q][data-to="echo.default"]`, webID)))
			}},
		// web-audit, in dry-run, would deny every POST to web.
		{route: "#/graph/POST", name: "mesh-post",
			ready: fmt.Sprintf(`g.edge.would-deny[data-from=%q][data-to="web.default"]`, clientAID)},
		{route: "#/proxies", name: "proxies",
			ready: `tr[data-proxy="nacker.default"] .nack`,
			check: func(t *testing.T, b *browser) {
				if got := b.text(t, `tr[data-proxy="nacker.default"] .nack`); !strings.Contains(got, nackMessage) {
					t.Errorf("nacker.default's NACK reads %q, want %q", got, nackMessage)
				}
				b.do(t, "echo's proxyless server", chromedp.WaitVisible(`tr[data-proxy="echo.default"]`))
			}},
		{route: "#/proxies/nacker.default", name: "proxy-config",
			ready: `tr[data-type="Cluster"] .diff.added li`,
			check: func(t *testing.T, b *browser) {
				if got := b.text(t, `tr[data-type="Cluster"]`); !strings.Contains(got, nackMessage) || !strings.Contains(got, "NACKED") {
					t.Errorf("the Cluster row of nacker.default reads %q, want NACKED with %q", got, nackMessage)
				}
			}},
		{route: "#/certificates", name: "certificates",
			ready: fmt.Sprintf(`tr[data-spiffe-id=%q] .expiry[data-health="valid"]`, clientAID)},
		{route: "#/policies", name: "policies",
			ready: `tr[data-policy="default/web-audit"] [data-count="would-deny"]`,
			check: func(t *testing.T, b *browser) {
				got := b.text(t, `tr[data-policy="default/web-audit"] [data-count="would-deny"]`)
				n, err := strconv.Atoi(strings.TrimPrefix(got, "would deny "))
				if err != nil || n < 3 {
					t.Errorf("web-audit's would-deny count reads %q, want at least the 3 POSTs the test sent", got)
				}
			}},
	}
}

// TestDashboardAnonymousReads opens the dashboard of a control plane run
// with --anonymous-reads from loopback: the pages read the API without a
// token, never ask for one, and the console stays clean from the start.
func TestDashboardAnonymousReads(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	cp := startCP(t, dir, "127.0.0.1:0", "127.0.0.1:0", "--anonymous-reads")
	cp.mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", dashMesh))
	b.do(t, "the policies page without a token", chromedp.Navigate("http://"+cp.api+"/ui/#/policies"),
		chromedp.WaitVisible(`main[data-page="policies"][data-state="ready"] tr[data-policy="default/web-audit"][data-mode="dry-run"]`),
		chromedp.WaitVisible(`#stream[data-state="live"]`), chromedp.WaitNotVisible("#token-form"))
	if errs := b.errorsSince(0); len(errs) > 0 {
		t.Errorf("console:\n%s", strings.Join(errs, "\n"))
	}
}
