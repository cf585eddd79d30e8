// Package log builds Embassy's one root logger and names its subsystems, so
// every line says which component wrote it.
package log

import (
	"io"
	"os"

	"github.com/hashicorp/go-hclog"
)

// Sub-logger names, one per component.
const (
	ControlPlane = "cp"
	Store        = "store"
	API          = "api"
	XDS          = "xds"
	Agent        = "agent"
)

// Options configure the root logger.
type Options struct {
	// Level is trace, debug, info, warn or error (default info).
	Level string
	// JSON switches to one JSON object per line.
	JSON bool
	// Output defaults to stderr.
	Output io.Writer
}

// New returns the root logger. Components take it by injection and call
// Named; nothing in Embassy logs through a global.
func New(name string, o Options) hclog.Logger {
	out := o.Output
	if out == nil {
		out = os.Stderr
	}
	level := hclog.LevelFromString(o.Level)
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      level,
		JSONFormat: o.JSON,
		Output:     out,
	})
}
