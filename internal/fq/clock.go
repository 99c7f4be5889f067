// clock.go: the clock of stamps (block.h, "Stamps"), read from Go.

package fq

import "time"

// maxStamps is the most stamps a consumer keeps: one per message of its
// largest batch.
const maxStamps = 256

// Go's monotonic clock is CLOCK_MONOTONIC on Linux, measured from a base
// of its own; base and offset relate the two once, so that Now reads
// CLOCK_MONOTONIC without a cgo call or a system call. offset is the
// smallest of a few readings of C's clock minus Go's, taken back to back,
// so it is within the time of one reading.
var (
	base   = time.Now()
	offset = calibrate()
)

func calibrate() int64 {
	best := int64(1) << 62
	var off int64
	for range 16 {
		g0 := int64(time.Since(base))
		c := cNow()
		g1 := int64(time.Since(base))
		if g1-g0 < best {
			best, off = g1-g0, c-(g0+g1)/2
		}
	}
	return off
}

// Now is CLOCK_MONOTONIC in ns, the clock C producers stamp with.
func Now() int64 { return offset + int64(time.Since(base)) }

// Stamped reports whether the handle's messages carry stamps.
func (h *Handle) Stamped() bool { return h.stamp != 0 }

// Stamps are the stamps of the messages the last Take took, in order; for
// a byte ring, those of the records Next returned since the last Release.
func (h *Handle) Stamps() []int64 { return h.stamps }
