package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"embassy.dev/embassy/pkg/dataplane"
)

// startXDSRelay serves the ADS relay on xds.sock until the returned
// function is called, which stops it and removes the socket.
func (a *Agent) startXDSRelay(ctx context.Context) (stop func(), err error) {
	cfg := a.cfg.XDSRelay
	dial := cfg.Dial
	if dial == nil {
		dial = DialPolicyXDS(cfg.XDSAddress, a.cfg.TrustBundle)
	}
	path := filepath.Join(a.cfg.SocketDir, dataplane.XDSRelaySocket)
	lis, err := listenUnix(path)
	if err != nil {
		return nil, fmt.Errorf("xDS relay socket: %w", err)
	}
	relay := NewXDSRelay(a.cfg.Workload, dial, a.mgr, cfg.MaxStreams, a.log.Named("xdsrelay"))
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := relay.Serve(rctx, lis); err != nil {
			a.log.Error("the xDS relay stopped", "socket", path, "error", err)
		}
	})
	fmt.Fprintf(a.cfg.Out, "embassy-agent: relaying the workload's xDS to the control plane on %s\n", path)
	return func() {
		cancel()
		wg.Wait()
		os.Remove(path)
	}, nil
}
