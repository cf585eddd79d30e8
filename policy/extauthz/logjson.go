package extauthz

import (
	"io"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
)

// jsonLines writes decision lines in the logger's JSON format, encoded by
// hand: hclog builds a map of the fields, then encoding/json reflects over
// it and sorts its keys again for every line, which was most of a line's
// cost and so, with every denial logged, a large share of a Check's CPU.
// The line is the one hclog writes, byte for byte (logjson_test.go).
type jsonLines struct {
	out    io.Writer
	module string
	now    func() time.Time
	buf    []byte // reused: only the writer goroutine encodes
}

// NewDecisionLogJSON is NewDecisionLog for a logger in JSON format that
// writes to out: the lines go to out as that logger would write them,
// one Write each, encoded without its map and reflection. log still
// decides which levels are written and names the module. out must
// serialize its Writes with the logger's, as one lock around both does,
// so that lines never interleave. A logger carrying arguments of its own
// (With) writes through itself, since only it knows how it shows them.
func NewDecisionLogJSON(log hclog.Logger, out io.Writer, logHeaderValues []string, sample float64) *DecisionLog {
	l := newDecisionLog(log, logHeaderValues, sample)
	if out != nil && len(l.log.ImpliedArgs()) == 0 {
		l.json = &jsonLines{out: out, module: l.log.Name(), now: time.Now}
	}
	go l.write()
	return l
}

// write encodes and writes one decision; keys come sorted, as
// encoding/json sorts a map's.
func (j *jsonLines) write(l *DecisionLog, e logEntry) {
	d := e.d
	b := j.buf[:0]
	level := "info"
	if e.err != nil {
		level = "warn"
	}
	b = append(b, `{"@level":"`...)
	b = append(b, level...)
	b = append(b, `","@message":"decision","@module":`...)
	b = appendJSONString(b, j.module)
	b = append(b, `,"@timestamp":"`...)
	b = j.now().AppendFormat(b, hclog.TimeFormatJSON)
	b = append(b, `","allowed":`...)
	b = strconv.AppendBool(b, d.Permitted())
	b = appendField(b, "decision", d.Outcome())
	b = appendField(b, "decision_id", e.id)
	b = append(b, `,"dry_run":`...)
	b = strconv.AppendBool(b, d.DryRun)
	if e.err != nil {
		b = appendField(b, "error", e.err.Error())
	}
	b = append(b, `,"headers":`...)
	b = l.headersForLog(e.headers).appendJSON(b)
	b = appendField(b, "latency", e.latency.String())
	b = appendField(b, "method", e.method)
	b = appendField(b, "path", pathOnly(e.path))
	b = appendField(b, "policy", d.Policy)
	b = appendField(b, "principal", e.principal)
	b = appendField(b, "reason", d.Reason)
	b = appendField(b, "request_id", e.headers["x-request-id"])
	b = appendField(b, "revision", d.Revision)
	if !d.Allowed && !d.Failed {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(d.HTTPStatus), 10)
	}
	b = append(b, "}\n"...)
	_, _ = j.out.Write(b)
	j.buf = b
}

// appendField appends `,"key":value` for a string value.
func appendField(b []byte, key, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}
