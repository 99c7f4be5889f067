// futex_linux.go: waking a consumer parked on the futex, from Go.

package fq

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

const (
	futexWakeOp  = 1   // FUTEX_WAKE
	futexPrivate = 128 // FUTEX_PRIVATE_FLAG
)

// futexWake wakes the consumer sleeping on the park word (fq_park_wake in
// c/sys.c), with a plain system call, so that a goroutine's Post makes no
// cgo call.
func futexWake(park *atomic.Uint32) {
	_, _, _ = syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(park)), futexWakeOp|futexPrivate,
		1<<31-1, 0, 0, 0)
}
