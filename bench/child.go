package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// The child protocol: the parent writes one childCmd per line on the
// child's stdin; the child writes one childEvent per line on its stdout.
// Its stderr is the parent's.

type childCmd struct {
	Op      string       `json:"op"` // start, arm, counters, close
	Fleet   *FleetConfig `json:"fleet,omitempty"`
	TypeURL string       `json:"typeUrl,omitempty"`
	Name    string       `json:"name,omitempty"`
}

type childEvent struct {
	Ev       string       `json:"ev"` // progress, ready, armed, obs, counters, closed, error
	Ready    int          `json:"ready,omitempty"`
	Total    int          `json:"total,omitempty"`
	Seq      int          `json:"seq,omitempty"`
	Obs      *Observation `json:"obs,omitempty"`
	Counters *Counters    `json:"counters,omitempty"`
	Err      string       `json:"err,omitempty"`
}

// ServeChild runs a fleet on behalf of a parent process: it reads commands
// from in and writes events to out until the parent says close, in ends,
// or ctx ends.
func ServeChild(ctx context.Context, in io.Reader, out io.Writer) error {
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	emit := func(e childEvent) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(e) // a parent that stopped reading is gone; nothing to do
	}
	var f *Fleet
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	cmds := make(chan childCmd)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var c childCmd
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				readErr <- fmt.Errorf("bad command from the parent: %w", err)
				return
			}
			select {
			case cmds <- c:
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		var c childCmd
		select {
		case c = <-cmds:
		case err := <-readErr:
			return err // in ended: the parent is gone
		case <-ctx.Done():
			return ctx.Err()
		}
		switch c.Op {
		case "start":
			if f != nil || c.Fleet == nil {
				emit(childEvent{Ev: "error", Err: "start: sent twice or without a fleet"})
				continue
			}
			var err error
			if f, err = NewFleet(*c.Fleet); err != nil {
				emit(childEvent{Ev: "error", Err: err.Error()})
				continue
			}
			go func(f *Fleet) {
				err := f.Connect(ctx, func(ready, total int) { emit(childEvent{Ev: "progress", Ready: ready, Total: total}) })
				if err != nil {
					emit(childEvent{Ev: "error", Err: err.Error()})
					return
				}
				emit(childEvent{Ev: "ready"})
				for {
					select {
					case o := <-f.obs:
						emit(childEvent{Ev: "obs", Obs: &o})
					case err := <-f.errCh:
						emit(childEvent{Ev: "error", Err: err.Error()})
						return
					case <-f.ctx.Done():
						return
					}
				}
			}(f)
		case "arm":
			if f == nil {
				emit(childEvent{Ev: "error", Err: "arm before start"})
				continue
			}
			seq, err := f.Arm(ctx, c.TypeURL, c.Name)
			if err != nil {
				emit(childEvent{Ev: "error", Err: err.Error()})
				continue
			}
			emit(childEvent{Ev: "armed", Seq: seq})
		case "counters":
			var cs Counters
			if f != nil {
				cs, _ = f.Counters(ctx)
			}
			emit(childEvent{Ev: "counters", Counters: &cs})
		case "close":
			var err error
			if f != nil {
				err = f.Close()
				f = nil
			}
			ev := childEvent{Ev: "closed"}
			if err != nil {
				ev.Err = err.Error()
			}
			emit(ev)
			return err
		default:
			emit(childEvent{Ev: "error", Err: fmt.Sprintf("unknown command %q", c.Op)})
		}
	}
}

// ChildFleet is a fleet running in a child process, so its memory is not
// the control plane's.
type ChildFleet struct {
	cfg     FleetConfig
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	enc     *json.Encoder
	events  chan childEvent
	readErr error // set before events is closed
	waitErr error // set before events is closed
	pending []Observation
}

// pipes connects to a child's stdin and stdout, the line protocol every
// child of the bench speaks with its parent.
func pipes(cmd *exec.Cmd) (io.WriteCloser, io.ReadCloser, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	return stdin, stdout, nil
}

// StartChild starts exe with args (which must make it call ServeChild) and
// hands it cfg on Connect.
func StartChild(exe string, args []string, cfg FleetConfig) (*ChildFleet, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	stdin, stdout, err := pipes(cmd)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the proxies' process: %w", err)
	}
	c := &ChildFleet{cfg: cfg, cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin), events: make(chan childEvent, 1024)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var e childEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				c.readErr = fmt.Errorf("bad line from the proxies' process: %q: %w", sc.Text(), err)
				break
			}
			c.events <- e
		}
		if c.readErr == nil {
			c.readErr = sc.Err()
		}
		// Drain what is left so the child never blocks on a full pipe.
		io.Copy(io.Discard, stdout)
		c.waitErr = cmd.Wait()
		close(c.events)
	}()
	return c, nil
}

func (c *ChildFleet) send(cmd childCmd) error {
	if err := c.enc.Encode(cmd); err != nil {
		return fmt.Errorf("writing to the proxies' process: %w", err)
	}
	return nil
}

// next returns the next event that is not an observation (observations
// are kept for Wait).
func (c *ChildFleet) next(ctx context.Context) (childEvent, error) {
	for {
		select {
		case e, ok := <-c.events:
			if !ok {
				return e, fmt.Errorf("the proxies' process exited (%v, %v)", c.waitErr, c.readErr)
			}
			switch e.Ev {
			case "obs":
				c.pending = append(c.pending, *e.Obs)
				continue
			case "error":
				return e, fmt.Errorf("proxies' process: %s", e.Err)
			}
			return e, nil
		case <-ctx.Done():
			return childEvent{}, ctx.Err()
		}
	}
}

// Connect implements Clients.
func (c *ChildFleet) Connect(ctx context.Context, progress func(ready, total int)) error {
	cfg := c.cfg
	if err := c.send(childCmd{Op: "start", Fleet: &cfg}); err != nil {
		return err
	}
	ready := 0
	for {
		e, err := c.next(ctx)
		if err != nil {
			return fmt.Errorf("%d of %d proxies fully configured at the last report: %w", ready, len(cfg.NodeIDs), err)
		}
		switch e.Ev {
		case "progress":
			ready = e.Ready
			if progress != nil {
				progress(e.Ready, e.Total)
			}
		case "ready":
			return nil
		}
	}
}

// Arm implements Clients.
func (c *ChildFleet) Arm(ctx context.Context, typeURL, name string) (int, error) {
	if err := c.send(childCmd{Op: "arm", TypeURL: typeURL, Name: name}); err != nil {
		return 0, err
	}
	for {
		e, err := c.next(ctx)
		if err != nil {
			return 0, err
		}
		if e.Ev == "armed" {
			return e.Seq, nil
		}
	}
}

// Wait implements Clients.
func (c *ChildFleet) Wait(ctx context.Context, seq, n int) ([]Observation, error) {
	var out []Observation
	take := func() {
		rest := c.pending[:0]
		for _, o := range c.pending {
			if o.Seq == seq {
				out = append(out, o)
			} else if o.Seq > seq {
				rest = append(rest, o)
			}
		}
		c.pending = rest
	}
	take()
	for len(out) < n {
		select {
		case e, ok := <-c.events:
			if !ok {
				return out, fmt.Errorf("the proxies' process exited (%v, %v)", c.waitErr, c.readErr)
			}
			switch e.Ev {
			case "obs":
				c.pending = append(c.pending, *e.Obs)
				take()
			case "error":
				return out, fmt.Errorf("proxies' process: %s", e.Err)
			}
		case <-ctx.Done():
			return out, fmt.Errorf("%d of %d proxies saw the change when %w", len(out), n, ctx.Err())
		}
	}
	return out, nil
}

// Counters implements Clients.
func (c *ChildFleet) Counters(ctx context.Context) (Counters, error) {
	if err := c.send(childCmd{Op: "counters"}); err != nil {
		return Counters{}, err
	}
	for {
		e, err := c.next(ctx)
		if err != nil {
			return Counters{}, err
		}
		if e.Ev == "counters" && e.Counters != nil {
			return *e.Counters, nil
		}
	}
}

// CPU implements Clients: the child process's user and system time, known
// once it exited.
func (c *ChildFleet) CPU() time.Duration {
	if ps := c.cmd.ProcessState; ps != nil {
		return ps.UserTime() + ps.SystemTime()
	}
	return 0
}

// Close implements Clients: it asks the child to close its streams and
// exit, and kills it if it has not within 15 seconds.
func (c *ChildFleet) Close() error {
	var errs []error
	if err := c.send(childCmd{Op: "close"}); err == nil {
		c.stdin.Close()
	}
	kill := time.NewTimer(15 * time.Second)
	defer kill.Stop()
	giveUp := time.NewTimer(20 * time.Second)
	defer giveUp.Stop()
	// Drain events while waiting, so the reader never blocks on a full
	// channel and can see the child exit.
	for open := true; open; {
		select {
		case _, open = <-c.events:
		case <-kill.C:
			errs = append(errs, errors.New("the proxies' process did not exit within 15s; killed it"))
			c.cmd.Process.Kill()
		case <-giveUp.C:
			return errors.Join(append(errs, errors.New("the proxies' process did not go away after being killed"))...)
		}
	}
	if c.waitErr != nil && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("the proxies' process: %w", c.waitErr))
	}
	return errors.Join(errs...)
}
