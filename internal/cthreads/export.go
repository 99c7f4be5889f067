package cthreads

// A baseline for benchmarks: the Go function a C thread would call
// directly. Files with //export may only declare in their preamble.

/*
#include <stdint.h>
*/
import "C"

import "sync/atomic"

var exported atomic.Int64

//export ctExportNoop
func ctExportNoop(v C.int) { exported.Add(int64(v)) }
