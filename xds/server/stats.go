package server

import "sync/atomic"

// Stats counts what the server has sent, for benchmarks and metrics.
type Stats struct {
	// SotW and Delta count responses per protocol variant.
	SotW, Delta KindStats
	// Pushes counts mesh snapshots pushed to the cache; Revision is the
	// last one's revision.
	Pushes, Revision int64
}

// KindStats counts the responses of one protocol variant and their
// encoded size in bytes.
type KindStats struct {
	Responses int64
	Bytes     int64
}

type counters struct {
	sotwResponses, sotwBytes   atomic.Int64
	deltaResponses, deltaBytes atomic.Int64
}

func (c *counters) add(kind string, size int) {
	if kind == kindDelta {
		c.deltaResponses.Add(1)
		c.deltaBytes.Add(int64(size))
		return
	}
	c.sotwResponses.Add(1)
	c.sotwBytes.Add(int64(size))
}

func (c *counters) snapshot() Stats {
	return Stats{
		SotW:  KindStats{Responses: c.sotwResponses.Load(), Bytes: c.sotwBytes.Load()},
		Delta: KindStats{Responses: c.deltaResponses.Load(), Bytes: c.deltaBytes.Load()},
	}
}
