package cache

import (
	"cmp"
	"errors"
	"maps"
	"slices"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/mesh"
)

// reportRefused groups the nodes of mesh m that could not be given their
// set by reason, and logs each reason once with its nodes and the inputs
// behind it: every node of a shape shares its shape's error, and one line
// per node would bury the reason under a fleet's worth of copies. Called
// with p.mu held.
func (p *Publisher) reportRefused(m *mesh.Snapshot, refused map[string]error) []events.Refusal {
	if len(refused) == 0 {
		return nil
	}
	nodes := map[error][]string{}
	for _, id := range slices.Sorted(maps.Keys(refused)) {
		nodes[refused[id]] = append(nodes[refused[id]], id)
	}
	inputs, more := p.inputs.between(p.served, m)
	var since int64
	if p.served != nil {
		since = p.served.Revision
	}
	errs := slices.SortedFunc(maps.Keys(nodes), func(a, b error) int { return cmp.Compare(nodes[a][0], nodes[b][0]) })
	out := make([]events.Refusal, 0, len(errs))
	for _, err := range errs {
		r := events.Refusal{Proxies: nodes[err], Inputs: inputs, MoreInputs: more, Since: since}
		if rf := (*refusal)(nil); errors.As(err, &rf) {
			r.Problems = rf.problems
		}
		p.log.Error("configuration refused before serving; these nodes keep their previous set", "revision", m.Revision, "nodes", r.Proxies, "error", err,
			"inputs", inputs, "since", since)
		out = append(out, r)
	}
	return out
}

// inputsMemo keeps the inputs of the last refusal: every node that
// connects to a refused shape until the next push is refused again, and
// the inputs are the same walk of two whole snapshots each time.
type inputsMemo struct {
	since, cur *mesh.Snapshot
	inputs     []string
	more       int
}

// between returns changedInputs(since, cur), computed once per pair.
func (c *inputsMemo) between(since, cur *mesh.Snapshot) ([]string, int) {
	if c.cur != cur || c.since != since || c.cur == nil {
		c.inputs, c.more = changedInputs(since, cur)
		c.since, c.cur = since, cur
	}
	return c.inputs, c.more
}
