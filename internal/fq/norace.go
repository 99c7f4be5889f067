//go:build !race

package fq

import "unsafe"

func raceRelease(unsafe.Pointer) {}
func raceAcquire(unsafe.Pointer) {}
