package bench

import (
	"os/exec"
	"syscall"
)

// stopWithParent makes the kernel kill the child if this process dies
// first (say, on the run's watchdog exit), so no OPA server outlives the
// bench.
func stopWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
