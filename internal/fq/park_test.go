package fq

import (
	"testing"
	"time"
)

// The spin window adapts (park.go, spinner): a fresh consumer spins the
// full window and counts as sporadic; long parks shrink the window to 0,
// so a sporadic consumer parks at once; short parks grow it back to the
// full window and make the consumer a stream (it parks on the fd).
func TestSpinnerAdapts(t *testing.T) {
	var s spinner
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
	var s spinner
	asked := 0
	yield := func() bool { asked++; return true }
	for s.wait(yield) {
	}
	if asked != 1 {
		t.Errorf("asked %d times in one spin, want 1", asked)
	}
}
