package main

import (
	"io"
	"sync"
)

// lineWriter serializes whole-line Writes to one output, so decision
// lines the agent encodes itself never interleave with the logger's,
// which writes each line in one Write too.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
