// Command lib is the Go half of main.c, a plain C program: TestCArchive builds
// it with -buildmode=c-archive and links it into main.c, the way a C
// application embeds a Go library that takes messages through foreign.h.
package main

// The preamble only declares (files with //export must not define C code).

/*
#include <stdint.h>
*/
import "C"

import "github.com/foreigncall/foreign"

var (
	q *foreign.Queue[uint64]
	// Written by the handler goroutine only. Close returns after the last
	// delivery, so carchive_close reads them without a race.
	sum, count uint64
)

// carchive_open creates the queue and returns its token for C, or 0.
//
//export carchive_open
func carchive_open(capacity C.int) C.uintptr_t {
	var err error
	q, err = foreign.NewQueue(func(v uint64) {
		sum += v
		count++
	}, foreign.QueueConfig{Capacity: int(capacity), Name: "carchive"})
	if err != nil {
		return 0
	}
	return C.uintptr_t(q.Token())
}

// carchive_close closes the queue, waits for the handler to finish, and
// returns the sum of the delivered values and, in *n, how many there were.
//
//export carchive_close
func carchive_close(n *C.uint64_t) C.uint64_t {
	_ = q.Close()
	*n = C.uint64_t(count)
	return C.uint64_t(sum)
}

func main() {}
