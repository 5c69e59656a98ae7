//go:build unix

package testnet

import (
	"syscall"
	"time"
)

// processCPU returns this process's user and system CPU time so far
// (getrusage RUSAGE_SELF); 0 if the call fails.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
