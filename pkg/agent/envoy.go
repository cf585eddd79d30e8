package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/internal/atomicfile"
	"embassy.dev/embassy/pkg/bootstrap"
)

// WriteFileAtomic replaces path with data so that a reader never sees a
// half-written file: it writes a temporary file beside it and renames it.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	return atomicfile.WriteFile(path, data, mode)
}

// WriteEnvoyBootstrap writes the bootstrap of a sidecar to path.
func WriteEnvoyBootstrap(path string, o bootstrap.EnvoyOptions) error {
	y, err := bootstrap.EnvoyYAML(o)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(path, y, 0o644); err != nil {
		return fmt.Errorf("writing the Envoy bootstrap to %s: %w", path, err)
	}
	return nil
}

// Supervisor keeps an Envoy process running with a bootstrap.
type Supervisor struct {
	// Bin is the envoy binary; Bootstrap the config file it is given.
	Bin       string
	Bootstrap string
	// Args are extra arguments for envoy.
	Args   []string
	Logger hclog.Logger
	// MinBackoff and MaxBackoff bound the wait between restarts (defaults
	// 1s and 30s); a run that lasted longer than MaxBackoff resets it.
	MinBackoff, MaxBackoff time.Duration
}

// Run starts Envoy and restarts it when it exits, with exponential backoff,
// until ctx is done; then it interrupts Envoy and waits for it.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.MinBackoff == 0 {
		s.MinBackoff = time.Second
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = 30 * time.Second
	}
	log := s.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	backoff := s.MinBackoff
	for restarts := 0; ; restarts++ {
		began := time.Now()
		cmd := exec.Command(s.Bin, append([]string{"-c", s.Bootstrap, "--restart-epoch", "0"}, s.Args...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting envoy (%s): %w", s.Bin, err)
		}
		log.Info("envoy started", "pid", cmd.Process.Pid, "restarts", restarts)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-ctx.Done():
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
			return nil
		case err := <-done:
			if time.Since(began) > s.MaxBackoff {
				backoff = s.MinBackoff
			}
			log.Warn("envoy exited; restarting", "error", err, "in", backoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, s.MaxBackoff)
	}
}
