//go:build !race

// norace.go: the race annotations, without the race detector.

package fq

import "unsafe"

func raceRelease(unsafe.Pointer) {}
func raceAcquire(unsafe.Pointer) {}
