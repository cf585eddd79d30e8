package bench

import (
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinCPUs: a server started through the pin may run only on the
// servers' CPU, this process's threads only on the others while pinned,
// and on all of them again after.
func TestPinCPUs(t *testing.T) {
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Fatal(err)
	}
	_, tasksetErr := exec.LookPath("taskset")
	p := pinCPUs(true)
	defer p.unpin()
	if before.Count() < 2 || tasksetErr != nil {
		if p.pinned() || !strings.HasPrefix(p.Note, "not pinned") {
			t.Fatalf("pinned on %d CPUs (taskset: %v): %q", before.Count(), tasksetErr, p.Note)
		}
		return
	}
	if !p.pinned() {
		t.Fatalf("not pinned on %d CPUs: %q", before.Count(), p.Note)
	}
	out, err := p.wrap(exec.Command("grep", "Cpus_allowed_list", "/proc/self/status")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(string(out), "Cpus_allowed_list:")); got != strconv.Itoa(p.server) {
		t.Errorf("a pinned server may run on CPUs %q, want %d only", got, p.server)
	}
	runtime.LockOSThread()
	var now unix.CPUSet
	err = unix.SchedGetaffinity(0, &now)
	runtime.UnlockOSThread()
	if err != nil || now.IsSet(p.server) || now.Count() != len(p.clients) {
		t.Errorf("this thread may run on %d CPUs (server CPU %t), want the %d client CPUs: %v", now.Count(), now.IsSet(p.server), len(p.clients), err)
	}
	p.unpin()
	if err := unix.SchedGetaffinity(0, &now); err != nil || now != before {
		t.Errorf("after unpin the CPUs are not restored: %v", err)
	}
	if off := pinCPUs(false); off.pinned() {
		t.Error("pinCPUs(false) pinned")
	}
}
