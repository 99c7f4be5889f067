// hooks.go: test hooks: the wait path, the call slots' generations.

package fq

import "sync/atomic"

// SetFutex switches the C waits between futex(2) and the portable
// condition-variable fallback, and returns the previous setting. A test
// hook: the tests run both wait paths on Linux.
func SetFutex(on bool) (was bool) { return cSetFutex(on) }

// SkipCallGens advances the calling thread's call slot by n generations,
// as n foreign_calls would, so that a test reaches the wrap of the slot's
// 24-bit state generation at once. The goroutine must be locked to its
// thread.
func SkipCallGens(n uint64) { cSkipCallGens(n) }

// The ways a consumer parks (park.go), for SetPark.
const (
	ParkAuto  = iota // the futex while events are sporadic, else the fd
	ParkFd           // always the wake fd
	ParkFutex        // the futex whenever one of the maxFutexParked is free
)

// parkMode is the way consumers park: ParkAuto but in tests.
var parkMode atomic.Int32

// SetPark sets how consumers park from their next park on, and returns
// the previous setting. A test hook: the tests run both media whatever the
// timing. Where there is no futex (futexPark), consumers park on the fd.
func SetPark(mode int) (old int) { return int(parkMode.Swap(int32(mode))) }

// FutexParked is the number of consumers parked on the futex now (for the
// tests of its bound).
func FutexParked() int { return futexParked.count() }

// MaxFutexParked is the bound on FutexParked.
const MaxFutexParked = maxFutexParked

// ParkedOnFutex reports whether the consumer is parked on the futex (for
// the tests).
func (h *Handle) ParkedOnFutex() bool { return h.c.park.Load() == parkFutex }

// FutexSleeps is the number of sleeps on the futex the consumer has begun
// (park.go: in steps for keepFor, then one until woken), for the tests.
func (h *Handle) FutexSleeps() uint64 { return h.sleeps.Load() }

// KeepFor is how long a parked consumer keeps waking to hold its P.
const KeepFor = keepFor

// RefuseFutex makes the futex sleep fail as a kernel that refuses the
// system call would (on), or restores it and lets consumers park on the
// futex again (off). A test hook.
func RefuseFutex(on bool) {
	cRefuseFutex(on)
	if !on {
		futexPark.Store(cFutexPark())
	}
}

// FutexParking reports whether consumers may park on the futex now.
func FutexParking() bool { return futexPark.Load() }

// Keepers is the number of parked consumers keeping their P now (park.go),
// for the tests of its bound, GOMAXPROCS-1.
func Keepers() int { return keepers.count() }

// kickHook, if set, runs first in the AfterFunc that ends a park on the fd
// when its context is done (a test hook, to order it against the park's
// return).
var kickHook func()
