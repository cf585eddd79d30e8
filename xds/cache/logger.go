package cache

import (
	"fmt"

	"github.com/envoyproxy/go-control-plane/pkg/log"
	"github.com/hashicorp/go-hclog"
)

// NewLogger adapts an hclog logger to go-control-plane's logger interface.
// The library logs every watch at Info and every response at Debug, which
// is per-request noise for an operator, so both move one level down.
func NewLogger(l hclog.Logger) log.Logger { return hclogAdapter{l} }

type hclogAdapter struct{ l hclog.Logger }

func (a hclogAdapter) Debugf(format string, args ...any) {
	if a.l.IsTrace() {
		a.l.Trace(fmt.Sprintf(format, args...))
	}
}

func (a hclogAdapter) Infof(format string, args ...any) {
	if a.l.IsDebug() {
		a.l.Debug(fmt.Sprintf(format, args...))
	}
}

func (a hclogAdapter) Warnf(format string, args ...any) { a.l.Warn(fmt.Sprintf(format, args...)) }

func (a hclogAdapter) Errorf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
