package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// replicaProc is one child process running ServeReplicaChild, called one
// command at a time.
type replicaProc struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	enc     *json.Encoder
	replies chan replicaReply
	exited  chan struct{}
	readErr error // set before exited is closed

	mu sync.Mutex
	// broken is set once a call gave up waiting: its reply may still
	// come and would answer the next call, so there is none.
	broken bool
}

// startReplicaProc starts cmd, which must run ServeReplicaChild; its
// stderr is this process's.
func startReplicaProc(cmd *exec.Cmd, name string) (*replicaProc, error) {
	cmd.Stderr = os.Stderr
	stopWithParent(cmd)
	stdin, stdout, err := pipes(cmd)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s's process: %w", name, err)
	}
	p := &replicaProc{name: name, cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin),
		replies: make(chan replicaReply, 1), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var rep replicaReply
			if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
				p.readErr = fmt.Errorf("bad line from the %s's process: %q: %w", name, sc.Text(), err)
				break
			}
			// Calls are one at a time, so the buffer is full only with
			// the late reply of an abandoned call, which nobody reads.
			select {
			case p.replies <- rep:
			default:
			}
		}
		io.Copy(io.Discard, stdout)
		if err := cmd.Wait(); err != nil && p.readErr == nil {
			p.readErr = err
		}
		close(p.exited)
	}()
	return p, nil
}

// call sends c and returns the child's reply; the child's own failure
// comes back as an error naming the process.
func (p *replicaProc) call(ctx context.Context, c replicaCmd) (replicaReply, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken {
		return replicaReply{}, fmt.Errorf("%s: an earlier call was abandoned", p.name)
	}
	if err := p.enc.Encode(c); err != nil {
		return replicaReply{}, fmt.Errorf("%s: writing %s: %w", p.name, c.Op, err)
	}
	select {
	case rep := <-p.replies:
		if rep.Err != "" {
			return rep, fmt.Errorf("%s: %s: %s", p.name, c.Op, rep.Err)
		}
		return rep, nil
	case <-p.exited:
		return replicaReply{}, fmt.Errorf("%s: the process exited during %s (%v)", p.name, c.Op, p.readErr)
	case <-ctx.Done():
		p.broken = true
		return replicaReply{}, fmt.Errorf("%s: %s: %w", p.name, c.Op, ctx.Err())
	}
}

// stop asks the child to close and exit, and kills it if it has not
// within 15 seconds.
func (p *replicaProc) stop() error {
	if !p.broken {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		p.call(ctx, replicaCmd{Op: "close"})
		cancel()
	}
	p.stdin.Close()
	select {
	case <-p.exited:
		return nil
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s: the process did not exit within 15s of closing; killed it", p.name)
	}
}
