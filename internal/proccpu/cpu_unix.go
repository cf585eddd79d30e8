//go:build unix

// Package proccpu reads the CPU time this process has used, for
// measurements that report CPU per call: a loaded machine changes it far
// less than the time per call.
package proccpu

import (
	"syscall"
	"time"
)

// Used is the CPU time (user and system) this process has used.
func Used() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
