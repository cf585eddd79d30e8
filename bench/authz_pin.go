package bench

import (
	"os/exec"
	"strconv"
)

// cpuPin keeps the load generator and the servers on different CPUs, so
// that on a small machine the ratio of two servers is not mostly the
// clients' share of the same cores: both servers (embassy's child and the
// peer) run on one CPU, started under taskset, and this process, the
// clients, on the others. The zero cpuPin pins nothing.
type cpuPin struct {
	server  int    // the servers' CPU, when pinned
	clients []int  // this process's CPUs while the section runs
	taskset string // the taskset binary
	// Note says what was pinned where, or why nothing was, for the table.
	Note string
	// restore puts this process's threads back on the CPUs they had.
	restore func()
}

// pinned says whether servers start under taskset.
func (p *cpuPin) pinned() bool { return p != nil && p.taskset != "" }

// command is bin with args, run on the servers' CPU when pinned.
func (p *cpuPin) command(bin string, args []string) (string, []string) {
	if !p.pinned() {
		return bin, args
	}
	return p.taskset, append([]string{"-c", strconv.Itoa(p.server), bin}, args...)
}

// wrap is cmd run on the servers' CPU when pinned; taskset execs the
// command, so the process id, and with it the CPU accounting, is the
// server's own.
func (p *cpuPin) wrap(cmd *exec.Cmd) *exec.Cmd {
	if !p.pinned() {
		return cmd
	}
	bin, args := p.command(cmd.Path, cmd.Args[1:])
	w := exec.Command(bin, args...)
	w.Dir, w.Env = cmd.Dir, cmd.Env
	return w
}

// unpin restores this process's CPUs.
func (p *cpuPin) unpin() {
	if p != nil && p.restore != nil {
		p.restore()
	}
}
