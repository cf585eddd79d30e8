package extauthz

import (
	"bytes"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/policy/engine"
)

// Redacted replaces header values in decision logs.
const Redacted = "[redacted]"

// DecisionLogBuffer bounds the decision lines waiting to be written; when
// the writer falls this far behind, new lines are dropped and counted
// rather than slow down Check.
const DecisionLogBuffer = 4096

// DefaultDecisionLogSample is the agent's default share of allows logged:
// one in a hundred. Every denial, would-deny and error is logged whatever
// the share, and the decision counts (authz-stats.json) count every
// decision, so the log is not where the totals come from. Logging every
// allow would fill the bounded queue with routine lines at high rates,
// and a full queue drops the next line whatever it says, a denial
// included; a hundredth still shows what traffic passes.
const DefaultDecisionLogSample = 0.01

// DecisionLog writes one structured line per decision, off the Check
// path: Check only copies what the line needs into a bounded queue, and a
// writer goroutine formats and writes it, so a slow log sink never slows
// a decision and a full queue drops lines (counted by Dropped). Nothing is
// copied when the logger would discard the line. Every denial, would-deny
// and error is logged, with its reason (fail-closed refusals included);
// allows are logged at the sample rate. It is safe for concurrent use.
type DecisionLog struct {
	log        hclog.Logger
	logHeaders map[string]bool
	sample     float64
	queue      chan logEntry
	dropped    atomic.Uint64
	closing    sync.Once
	done       chan struct{}
	json       *jsonLines // nil: lines go through log
}

// logEntry is what one line needs, taken on the Check path.
type logEntry struct {
	d         engine.Decision
	err       error
	id        string
	latency   time.Duration
	principal string
	method    string
	path      string
	headers   map[string]string // the request's own map, only read
	raw       []byte            // a wire request, read by the writer instead of the four above
	flushed   chan struct{}     // set instead of the rest by Flush
}

// NewDecisionLog starts a DecisionLog writing to log. logHeaderValues
// names the request headers (lower case) whose values lines show; every
// other header is logged with its value redacted, since headers carry
// credentials. sample is the share of allowed decisions logged, from 0
// (none) to 1 (all). Close stops it.
func NewDecisionLog(log hclog.Logger, logHeaderValues []string, sample float64) *DecisionLog {
	return NewDecisionLogJSON(log, nil, logHeaderValues, sample)
}

// newDecisionLog is a DecisionLog whose writer is not started yet.
func newDecisionLog(log hclog.Logger, logHeaderValues []string, sample float64) *DecisionLog {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	l := &DecisionLog{
		log: log, logHeaders: map[string]bool{}, sample: min(max(sample, 0), 1),
		queue: make(chan logEntry, DecisionLogBuffer), done: make(chan struct{}),
	}
	for _, h := range logHeaderValues {
		l.logHeaders[strings.ToLower(h)] = true
	}
	return l
}

// Dropped counts the lines dropped because the queue was full.
func (l *DecisionLog) Dropped() uint64 { return l.dropped.Load() }

// Close writes the lines queued so far and stops the writer. Lines of
// later decisions are dropped.
func (l *DecisionLog) Close() {
	l.closing.Do(func() {
		l.Flush()
		close(l.done)
	})
}

// Flush returns once every line queued before it is written, or at
// once after Close.
func (l *DecisionLog) Flush() {
	select {
	case <-l.done:
		return
	default:
	}
	f := make(chan struct{})
	select {
	case l.queue <- logEntry{flushed: f}:
		<-f
	case <-l.done:
	}
}

// Record queues the line of one decision, if it is to be logged, without
// ever waiting. err, when set, is why the decision failed; its line is
// logged at warn.
func (l *DecisionLog) Record(req *authv3.CheckRequest, d engine.Decision, err error, id string, latency time.Duration) {
	if !l.wanted(d, err) {
		return
	}
	l.enqueue(logEntry{d: d, err: err, id: id, latency: latency}.of(req))
}

// RecordWire is Record of a request in its wire form, which it copies
// only when the line is to be written: the writer decodes it.
func (l *DecisionLog) RecordWire(raw []byte, d engine.Decision, id string, latency time.Duration) {
	if !l.wanted(d, nil) {
		return
	}
	l.enqueue(logEntry{d: d, id: id, latency: latency, raw: bytes.Clone(raw)})
}

// of fills in what the line shows of req.
func (e logEntry) of(req *authv3.CheckRequest) logEntry {
	h := req.GetAttributes().GetRequest().GetHttp()
	e.principal = req.GetAttributes().GetSource().GetPrincipal()
	e.method, e.path, e.headers = h.GetMethod(), h.GetPath(), h.GetHeaders()
	return e
}

// ofWire is of for a request in wire bytes that readWire accepted; it
// reads only what the line shows, which costs a fraction of decoding.
func (e logEntry) ofWire(raw []byte) logEntry {
	w := readScanned(raw)
	e.principal = w.principal(false)
	e.method, e.path, e.headers = w.httpField(httpMethod), w.httpField(httpPath), w.headers()
	return e
}

// enqueue queues e, or drops it when the queue is full or closed.
func (l *DecisionLog) enqueue(e logEntry) {
	select {
	case <-l.done: // closed: nothing would write it
		l.dropped.Add(1)
		return
	default:
	}
	select {
	case l.queue <- e:
	default:
		l.dropped.Add(1)
	}
}

// wanted says whether a decision's line is written: not when the logger
// would discard it, and for an allow only at the sample rate.
func (l *DecisionLog) wanted(d engine.Decision, err error) bool {
	if err != nil {
		return l.log.IsWarn()
	}
	if !l.log.IsInfo() {
		return false
	}
	if d.Outcome() != engine.OutcomeAllow {
		return true
	}
	return l.sample >= 1 || (l.sample > 0 && rand.Float64() < l.sample)
}

func (l *DecisionLog) write() {
	for {
		select {
		case e := <-l.queue:
			if e.flushed != nil {
				close(e.flushed)
				continue
			}
			l.line(e)
		case <-l.done:
			return
		}
	}
}

// line writes one decision. Errors log at warn so a failing policy
// stands out.
func (l *DecisionLog) line(e logEntry) {
	if e.raw != nil {
		e = e.ofWire(e.raw)
	}
	if l.json != nil {
		l.json.write(l, e)
		return
	}
	fields := l.fields(e)
	if e.err != nil {
		l.log.Warn("decision", fields...)
		return
	}
	l.log.Info("decision", fields...)
}

// fields says which policy revision decided what and why, for which
// request and caller.
func (l *DecisionLog) fields(e logEntry) []any {
	d := e.d
	fields := make([]any, 0, 30)
	fields = append(fields,
		"policy", d.Policy,
		"revision", d.Revision,
		"decision", d.Outcome(),
		"allowed", d.Permitted(),
		"dry_run", d.DryRun,
		"reason", d.Reason,
		"latency", e.latency.String(),
		"decision_id", e.id,
		"request_id", e.headers["x-request-id"],
		"principal", e.principal,
		"method", e.method,
		"path", pathOnly(e.path),
		"headers", l.headersForLog(e.headers),
	)
	if !d.Allowed && !d.Failed {
		fields = append(fields, "status", d.HTTPStatus)
	}
	if e.err != nil {
		fields = append(fields, "error", e.err.Error())
	}
	return fields
}

// pathOnly drops the query string, which can carry credentials as headers
// do. A plain path, the usual case, is its own answer, without the cost
// of parsing it as a URL.
func pathOnly(p string) string {
	if plainPath(p) {
		return p
	}
	if u, err := url.Parse(p); err == nil {
		return u.Path
	}
	return p
}

// plainPath says whether url.Parse would give p back as its path: it
// starts with one slash (not "//", which names a host) and has no query,
// fragment, escape or byte url.Parse rejects or changes.
func plainPath(p string) bool {
	if len(p) == 0 || p[0] != '/' || strings.HasPrefix(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '%' {
			return false
		}
	}
	return true
}
