//go:build !linux

package bench

import "os/exec"

// stopWithParent does nothing where the kernel offers no parent-death
// signal; the bench stops its OPA server itself on every normal exit.
func stopWithParent(*exec.Cmd) {}
