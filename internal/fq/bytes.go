// bytes.go: a byte ring in Go: the producer's claim and publish, the
// reservation, and the consumer's records read in place.

package fq

import (
	"context"
	"sync/atomic"
	"unsafe"
)

// The steps of block.h's "Byte rings" in Go, beside their C form in
// c/bytes.c, so that a goroutine's post makes no cgo call.

// The header word of a record (FQ_HDR_* in block.h).
const (
	hdrValid = 0x80000000
	hdrPad   = 0x40000000
	hdrLen   = 0x3FFFFFFF
)

// recSize is the data bytes of a record with n payload bytes (fq_rec_size,
// without its stamp).
func recSize(n int) uint64 { return max(8, (uint64(n)+7)&^7) }

// RecSize is recSize for the Go side's sizing of rings.
func RecSize(n int) int { return int(recSize(n)) }

// Bytes reports whether the handle's ring is a byte ring.
func (h *Handle) Bytes() bool { return h.cells != nil && h.cellSize == 0 }

// MaxMessage is the longest message a byte ring takes (a call's header
// included).
func (h *Handle) MaxMessage() int { return int(h.c.msgSize.Load()) }

// hdr is the header word of the record at pos: in the header array after
// the data (block.h, "Byte rings").
func (h *Handle) hdr(pos uint64) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Add(h.cells, uintptr(h.mask+1)+uintptr(pos&h.mask)>>3*4))
}

// claimBytes claims a byte ring's record for a message of n bytes.
func (h *Handle) claimBytes(n int, fresh, count, holder bool) (roomClaim, error) {
	return h.claimRoom(recSize(n)+uint64(h.stamp), n, fresh, count, holder)
}

// putBytes copies a then b into the claimed record and publishes it.
func (h *Handle) putBytes(cl roomClaim, a, b []byte) {
	p := unsafe.Add(h.cells, uintptr(cl.rec&h.mask))
	if h.stamp != 0 {
		*(*int64)(p) = Now()
		p = unsafe.Add(p, h.stamp)
	}
	dst := unsafe.Slice((*byte)(p), len(a)+len(b))
	copy(dst, a)
	copy(dst[len(a):], b)
	raceRelease(unsafe.Pointer(&h.raceSync))
	h.hdr(cl.rec).Store(hdrValid | uint32(len(a)+len(b)))
	if cl.rec != cl.pos {
		h.hdr(cl.pos).Store(hdrPad)
	}
	h.notify()
}

// checkLen refuses a message longer than the ring's maximum.
func (h *Handle) checkLen(n int) error {
	if n > h.MaxMessage() {
		return ErrMsgSize
	}
	return nil
}

// PostBytes posts the message a followed by b into a byte ring without
// blocking: ErrFull if it does not fit now, ErrMsgSize if it is longer
// than the maximum, ErrClosed once closed.
func (h *Handle) PostBytes(a, b []byte) error {
	if err := h.checkLen(len(a) + len(b)); err != nil {
		return err
	}
	cl, err := h.claimBytes(len(a)+len(b), false, true, false)
	if err != nil {
		return err
	}
	h.putBytes(cl, a, b)
	return nil
}

// PostBytesWait is PostBytes that waits while the message does not fit,
// until ctx is done, holding the ring's reservation while it waits (block.h,
// "Reservation") so that smaller posts cannot starve it.
func (h *Handle) PostBytesWait(ctx context.Context, a, b []byte) error {
	n := len(a) + len(b)
	if err := h.checkLen(n); err != nil {
		return err
	}
	cl, err := h.claimBytes(n, false, false, false)
	var reserved uint64
	for err == ErrFull {
		if h.waitsForItself() {
			err = ErrDeadlock
			break
		}
		room := h.beginWait()
		if reserved == 0 {
			reserved = h.reserve(n)
		}
		cl, err = h.claimBytes(n, true, false, reserved != 0)
		err = h.endWait(ctx, room, err)
	}
	h.unreserve(reserved)
	h.countClosed(err)
	if err != nil {
		return err
	}
	h.putBytes(cl, a, b)
	return nil
}

// reserve is fq_reserve: the reservation taken for a message of n bytes,
// or 0 if another waiter holds it.
func (h *Handle) reserve(n int) uint64 {
	size := h.mask + 1
	want := h.gen<<genShift | min(2*(recSize(n)+uint64(h.stamp)), size)
	for {
		r := h.c.reserve.Load()
		if r>>genShift == h.gen && r&posMask != 0 {
			return 0
		}
		if h.c.reserve.CompareAndSwap(r, want) {
			return want
		}
	}
}

// unreserve is fq_unreserve: it gives the reservation back and wakes the
// waiters, C and Go.
func (h *Handle) unreserve(r uint64) {
	if r != 0 && h.c.reserve.CompareAndSwap(r, r&^posMask) {
		h.WakeWaiters()
	}
}

// Next returns the payload of the record at the consumer's read cursor,
// in place in the ring, if it is published, and moves the cursor past it.
// It stays valid until Release. Consumer only.
func (h *Handle) Next() ([]byte, bool) {
	for {
		if diff(h.rd, h.head) >= int64(h.mask+1) {
			// A whole ring read and none of it released: the word at the
			// cursor is the first record's header, not a new one.
			return nil, false
		}
		hw := h.hdr(h.rd)
		w := hw.Load() // pairs with the producer's store of the header
		if w == 0 {
			h.relayRoom()
			return nil, false
		}
		// The header of no live record, before head passes it (block.h,
		// "Consume (bytes)"). A plain store: the store of head orders it
		// before any producer's claim of this position, and an atomic one
		// would cost a locked instruction per message.
		*(*uint32)(unsafe.Pointer(hw)) = 0
		if w&hdrPad != 0 {
			h.rd = (h.rd + (h.mask + 1 - h.rd&h.mask)) & posMask
			continue
		}
		n := w & hdrLen
		p := unsafe.Add(h.cells, uintptr(h.rd&h.mask))
		if h.stamp != 0 {
			if h.readN < len(h.stamps) {
				h.stamps[h.readN] = *(*int64)(p)
			}
			p = unsafe.Add(p, h.stamp)
		}
		h.rd = (h.rd + recSize(int(n)) + uint64(h.stamp)) & posMask
		h.readN++
		raceAcquire(unsafe.Pointer(&h.raceSync))
		return unsafe.Slice((*byte)(p), n), true
	}
}

// relayRoom passes a wake-up meant for waiting producers on to the Go
// ones: a C waiter that gives up the reservation bumps space_seq, wakes the
// C waiters, and wakes the consumer, which closes the Go waiters' channel
// here (block.h, "Reservation"). Consumer only.
func (h *Handle) relayRoom() {
	if s := h.c.spaceSeq.Load(); s != h.seenSpace {
		h.seenSpace = s
		if h.goWaiters.Load() != 0 {
			h.roomAppeared()
		}
	}
}

// Unread reports whether the read cursor is past the released head:
// records read with Next and not yet released.
func (h *Handle) Unread() bool { return h.rd != h.head }

// Release passes everything the read cursor has passed back to the
// producers with its store of head (block.h, "Consume (bytes)"). full says
// the batch was cut short by its size, so the tail tells the depth.
// Consumer only.
func (h *Handle) Release(full bool) {
	if h.rd == h.head {
		return
	}
	n := uint64(diff(h.rd, h.head))
	d := n
	if full {
		d = uint64(diff(h.c.tail.Load()&posMask, h.head))
	}
	if d > h.c.highWater.Load() {
		h.c.highWater.Store(d)
	}
	h.readN = 0
	h.releaseTo(h.rd)
}

// ReadN is the number of records read since the last Release.
func (h *Handle) ReadN() int { return h.readN }

// Reserved reports whether a waiting post holds the byte ring's
// reservation (for the tests).
func (h *Handle) Reserved() bool {
	r := h.c.reserve.Load()
	return r>>genShift == h.gen && r&posMask != 0
}
