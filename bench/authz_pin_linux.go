package bench

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinCPUs, when enabled and this process may run on two CPUs or more,
// keeps the last of them for the servers and moves every thread of this
// process to the others; threads made later inherit that. Otherwise it
// pins nothing and says why.
func pinCPUs(enabled bool) *cpuPin {
	if !enabled {
		return &cpuPin{Note: "not pinned (--authz-pin=false): clients and servers share every CPU"}
	}
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return &cpuPin{Note: "not pinned: " + err.Error()}
	}
	var cpus []int
	for c := range 1024 {
		if all.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	taskset, err := exec.LookPath("taskset")
	switch {
	case len(cpus) < 2:
		return &cpuPin{Note: "not pinned: this process may run on one CPU only"}
	case err != nil:
		return &cpuPin{Note: "not pinned: no taskset on PATH"}
	}
	p := &cpuPin{server: cpus[len(cpus)-1], clients: cpus[:len(cpus)-1], taskset: taskset}
	var clients unix.CPUSet
	for _, c := range p.clients {
		clients.Set(c)
	}
	if err := setThreads(&clients); err != nil {
		setThreads(&all)
		return &cpuPin{Note: "not pinned: " + err.Error()}
	}
	p.restore = func() { setThreads(&all) }
	p.Note = fmt.Sprintf("pinned: both servers on CPU %d (taskset; their GOMAXPROCS follows), the clients on CPUs %v", p.server, p.clients)
	return p
}

// setThreads sets the affinity of every thread of this process.
func setThreads(set *unix.CPUSet) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return nil
}
