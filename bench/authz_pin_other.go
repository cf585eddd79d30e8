//go:build !linux

package bench

// pinCPUs pins nothing where there is no sched_setaffinity.
func pinCPUs(enabled bool) *cpuPin {
	return &cpuPin{Note: "not pinned: CPU affinity is set only on Linux"}
}
