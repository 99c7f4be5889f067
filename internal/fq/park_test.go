package fq

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// The spin window adapts (spinner.go): a fresh consumer spins the
// full window and counts as sporadic; long parks shrink the window to 0,
// so a sporadic consumer parks at once; short parks grow it back to the
// full window and make the consumer a stream (it parks on the fd).
func TestSpinnerAdapts(t *testing.T) {
	s := newSpinner()
	if !s.sporadic() {
		t.Error("a fresh consumer is not sporadic")
	}
	if !s.wait(nil) || s.window != spinFor {
		t.Fatalf("a fresh consumer does not spin the full window (%v)", s.window)
	}
	s.reset()
	for range 20 {
		s.parked(time.Millisecond)
	}
	if s.window != 0 || !s.sporadic() {
		t.Fatalf("after long parks: window %v, sporadic %v; want 0, true", s.window, s.sporadic())
	}
	if s.wait(nil) {
		t.Error("a zero window still spins")
	}
	s.parked(time.Microsecond)
	if s.window != spinMin || s.sporadic() {
		t.Fatalf("after a short park: window %v, sporadic %v; want %v, false", s.window, s.sporadic(), spinMin)
	}
	// One long park in a stream (a hiccup) does not make it sporadic; two do.
	s.parked(time.Millisecond)
	if s.sporadic() {
		t.Error("sporadic after one long park")
	}
	s.parked(time.Millisecond)
	if !s.sporadic() {
		t.Error("not sporadic after two long parks")
	}
	s.parked(time.Microsecond)
	for range 20 {
		s.parked(time.Microsecond)
	}
	if s.window != spinFor {
		t.Fatalf("after short parks: window %v, want %v", s.window, spinFor)
	}
}

// The spinner yields to goroutines its handler readied only when asked,
// once per spin, at the start.
func TestSpinnerYieldsFirst(t *testing.T) {
	s := newSpinner()
	asked := 0
	start := func() (bool, bool) { asked++; return true, false }
	for s.wait(start) {
	}
	if asked != 1 {
		t.Errorf("asked %d times in one spin, want 1", asked)
	}
}

// A context that ends just as a producer wakes a consumer parked on the
// fd must not leave its past read deadline on the fd: if the park cleared
// the deadline before the context's callback had set it, every later park
// on the fd returned at once (the consumer spun). The hook delays the
// callback so that the park's return comes first; the test fails on the
// code before the fix.
func TestFdDeadlineNotLeftBehind(t *testing.T) {
	old := SetPark(ParkFd)
	defer SetPark(old)
	h, err := Open(OpenArgs{MsgSize: 8, Capacity: 64, Kind: KindQueue})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Discard()
	kickHook = func() { time.Sleep(20 * time.Millisecond) }
	defer func() { kickHook = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for !h.Parked() {
			time.Sleep(10 * time.Microsecond)
		}
		cancel() // the callback starts, and waits in the hook
		_ = Post(h, uint64(1))
	}()
	for {
		_ = h.Park(ctx, h.Claimed)
		var buf [8]uint64
		if Take(h, buf[:]) > 0 {
			break
		}
	}
	time.Sleep(40 * time.Millisecond) // past the hook: the callback has run
	// Make the fd readable and read it: with a past deadline left on it
	// the read fails at once with a timeout instead.
	one := [8]byte{1}
	if _, err := syscall.Write(int(h.c.wakeFd.Load()), one[:]); err != nil {
		t.Fatal(err)
	}
	var b [64]byte
	if _, err := h.wake.Read(b[:]); err != nil {
		t.Fatalf("the wake fd kept the context's deadline: %v", err)
	}
}

// A kernel that refuses the futex (a seccomp filter, say) makes consumers
// park on the fd from then on, instead of spinning on the failed sleep.
func TestFutexRefusedFallsBack(t *testing.T) {
	if !FutexParking() {
		t.Skip("no futex parking in this build")
	}
	old := SetPark(ParkFutex)
	defer SetPark(old)
	RefuseFutex(true)
	defer RefuseFutex(false)
	h, err := Open(OpenArgs{MsgSize: 8, Capacity: 64, Kind: KindQueue})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Discard()
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = Post(h, uint64(1))
	}()
	parks := 0
	for {
		_ = h.Park(context.Background(), h.Claimed)
		parks++
		var buf [8]uint64
		if Take(h, buf[:]) > 0 {
			break
		}
	}
	if FutexParking() {
		t.Error("consumers still park on the futex the kernel refused")
	}
	if parks > 3 || h.FutexSleeps() > 1 {
		t.Errorf("%d parks and %d futex sleeps for one message: the consumer spun", parks, h.FutexSleeps())
	}
}
