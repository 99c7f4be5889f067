//go:build !race

package foreign

import "unsafe"

func raceRelease(unsafe.Pointer) {}
func raceAcquire(unsafe.Pointer) {}
