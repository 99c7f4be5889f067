// consume.go: the consumer's steps: take published cells, pass them back.

package fq

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// The consumer's steps of block.h ("Consume"): one consumer per handle,
// which reads published cells in batches and passes them back.

type atomicSeq = atomic.Uint64

// published reports whether the cell at position pos (at or after the
// consumer's head) is published, and returns it. The acquire load pairs
// with the producer's publish.
func (h *Handle) published(pos uint64) (unsafe.Pointer, bool) {
	cell := h.cell(pos)
	return cell, cellSeq(cell).Load() == (pos+1)&posMask
}

// awaitPublished waits for the producer that claimed pos to publish it: it
// is running between its claim and its publish, and cannot fail.
func (h *Handle) awaitPublished(pos uint64) {
	for {
		if _, ok := h.published(pos); ok {
			return
		}
		runtime.Gosched()
	}
}

// Take copies up to len(buf) ready messages out of the ring and passes
// their cells back to producers. Consumer only; T is the message type.
func Take[T any](h *Handle, buf []T) int {
	n := 0
	for n < len(buf) {
		cell, ok := h.published(h.head + uint64(n))
		if !ok {
			break
		}
		if h.stamp != 0 && n < len(h.stamps) {
			h.stamps[n] = *(*int64)(unsafe.Add(cell, cellHdr))
		}
		buf[n] = *(*T)(unsafe.Add(cell, cellHdr+h.stamp))
		n++
	}
	if n > 0 {
		h.noteDepth(n, n == len(buf))
		h.release(n)
	}
	return n
}

// release passes n consumed cells back to the producers and wakes any
// that wait for room. The store of head and the loads of the waiter counts
// are the consumer's side of the waiting Dekker pair (block.h, "Waiting").
func (h *Handle) release(n int) {
	raceAcquire(unsafe.Pointer(&h.raceSync))
	h.releaseTo((h.head + uint64(n)) & posMask)
}

// releaseTo moves head to pos: see release.
func (h *Handle) releaseTo(pos uint64) {
	h.head = pos
	h.c.head.Store(h.head)
	if h.c.waiters.Load() != 0 {
		cSpace(h.c)
	}
	if h.goWaiters.Load() != 0 {
		h.roomAppeared()
	}
}

// noteDepth records the high-water depth. n cells were ready in one batch;
// when the batch was cut short by its buffer the tail says how deep it is.
func (h *Handle) noteDepth(n int, full bool) {
	d := uint64(n)
	if full {
		d = uint64(diff(h.c.tail.Load()&posMask, h.head))
	}
	if d > h.c.highWater.Load() {
		h.c.highWater.Store(d) // only the consumer writes it
	}
}

// Drained reports whether the ring is closed and every claimed message has
// been consumed.
func (h *Handle) Drained() bool {
	t := h.c.tail.Load()
	return t&closedBit != 0 && t&posMask == h.head
}

// Claimed reports whether there is anything for the consumer: claimed
// cells (perhaps not yet published), or a close to act on.
//
// On a byte ring, a move of space_seq counts too: the consumer must relay
// it to the Go waiters before it parks (block.h, "Reservation").
func (h *Handle) Claimed() bool {
	t := h.c.tail.Load()
	return t&posMask != h.head || t&closedBit != 0 || (h.Bytes() && h.c.spaceSeq.Load() != h.seenSpace)
}
