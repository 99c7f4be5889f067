// post.go: the Go producer: claim, publish, wait for room.

package fq

import (
	"context"
	"unsafe"
)

// The Go producer: the claim and publish steps of block.h ("Claim",
// "Publish", "Waiting for room") in Go, beside their C form in c/post.c,
// so that a goroutine's Post makes no cgo call. The one deliberate
// difference: C checks the message's kind and length on every post, where
// the Go type fixed both when the handle was made.

const cellHdr = 8 // the seq word before each message

// cell returns the cell for position pos.
func (h *Handle) cell(pos uint64) unsafe.Pointer {
	return unsafe.Add(h.cells, uintptr(pos&h.mask)*h.cellSize)
}

func cellSeq(cell unsafe.Pointer) *atomicSeq { return (*atomicSeq)(cell) }

// claim claims a cell: claimRoom of one position. On success the caller
// owns the returned cell and must publish it.
func (h *Handle) claim(fresh, count bool) (pos uint64, err error) {
	cl, err := h.claimRoom(1, 0, fresh, count, false)
	return cl.pos, err
}

// roomClaim is a claim: its position, and the record's (after a pad, if a
// byte ring's record did not fit before the data area's end).
type roomClaim struct{ pos, rec uint64 }

// claimRoom is claim_room in c/post.c: it claims step positions (a cell,
// or a byte ring's record of step bytes, for a message of n, and the pad
// before it), beside the reservation of a waiter other than the caller
// (holder: the caller holds it). A waiter's retry passes fresh to read the
// consumer's head rather than the cache; count says whether a refusal is
// counted in the stats.
func (h *Handle) claimRoom(step uint64, n int, fresh, count, holder bool) (roomClaim, error) {
	c := h.c
	bytes := h.Bytes()
	size := h.mask + 1
	for {
		tail := c.tail.Load()
		if tail>>genShift != h.gen {
			return roomClaim{}, ErrClosed // the block was recycled: we are long closed
		}
		if tail&closedBit != 0 {
			if count {
				h.goClosed.Add(1)
			}
			return roomClaim{}, ErrClosed
		}
		pos := tail & posMask
		toEnd := size - pos&h.mask
		total := step
		reserved := uint64(0)
		if bytes {
			if step > toEnd {
				total = toEnd + step // a pad fills the end
			}
			if r := c.reserve.Load(); !holder && r>>genShift == h.gen {
				reserved = r & posMask
			}
		}
		limit := int64(size-reserved) - int64(total)
		depth := int64(size) + 1
		if hc := c.headCache.Load(); !fresh && hc>>genShift == h.gen {
			depth = diff(pos, hc&posMask)
		}
		if depth > limit {
			head := c.head.Load() // pairs with the consumer's store of head
			depth = diff(pos, head)
			if depth > limit {
				if count {
					h.goFull.Add(1)
				}
				return roomClaim{}, ErrFull
			}
			c.headCache.Store(h.gen<<genShift | head)
		}
		if depth < 0 {
			continue // our tail is older than the consumer's head
		}
		if c.tail.CompareAndSwap(tail, tail&^posMask|(pos+total)&posMask) {
			cl := roomClaim{pos, pos}
			if total != step {
				cl.rec = (pos + toEnd) & posMask
			}
			if bytes {
				c.msgs.Add(1)
				c.bytes.Add(uint64(n))
			}
			return cl, nil
		}
	}
}

// publish passes ownership of the cell to the consumer and wakes it if it
// is parked. The park load follows the claim's CAS (both sequentially
// consistent): that is the producer's side of the Dekker pair.
func (h *Handle) publish(cell unsafe.Pointer, pos uint64) {
	raceRelease(unsafe.Pointer(&h.raceSync))
	cellSeq(cell).Store((pos + 1) & posMask)
	h.notify()
}

// put writes v into the claimed cell at pos and publishes it.
func put[T any](h *Handle, pos uint64, v T) {
	cell := h.cell(pos)
	if h.stamp != 0 {
		*(*int64)(unsafe.Add(cell, cellHdr)) = Now()
	}
	*(*T)(unsafe.Add(cell, cellHdr+h.stamp)) = v
	h.publish(cell, pos)
}

// Post copies v into the handle's ring without blocking: ErrFull if it is
// full, ErrClosed once closed. T must be the handle's message type.
func Post[T any](h *Handle, v T) error {
	pos, err := h.claim(false, true)
	if err != nil {
		return err
	}
	put(h, pos, v)
	return nil
}

// PostWait is Post that waits while the ring is full, until ctx is done
// (ctx.Err()) or the handle is closed (ErrClosed). From the thread serving
// the handle it returns ErrDeadlock instead of waiting for itself.
func PostWait[T any](h *Handle, ctx context.Context, v T) error {
	pos, err := h.postWait(ctx)
	if err != nil {
		return err
	}
	put(h, pos, v)
	return nil
}

// Go producers waiting for room sleep on a channel that the consumer
// closes and replaces when it makes room, and Close closes too. They count
// themselves in goWaiters first, then retry, so a release between their
// failed claim and their sleep is not missed.
func (h *Handle) roomChan() <-chan struct{} {
	h.roomMu.Lock()
	defer h.roomMu.Unlock()
	if h.room == nil {
		h.room = make(chan struct{})
	}
	return h.room
}

func (h *Handle) roomAppeared() {
	h.roomMu.Lock()
	if h.room != nil {
		close(h.room)
		h.room = nil
	}
	h.roomMu.Unlock()
}

// postWait claims a cell, waiting while the ring is full until ctx is done.
func (h *Handle) postWait(ctx context.Context) (uint64, error) {
	pos, err := h.claim(false, false)
	for err == ErrFull {
		if h.waitsForItself() {
			return 0, ErrDeadlock
		}
		room := h.beginWait()
		pos, err = h.claim(true, false)
		err = h.endWait(ctx, room, err)
	}
	h.countClosed(err)
	return pos, err
}

// The steps of a Go producer's wait for room, for cells (postWait) and
// records (PostBytesWait): check that the wait is not for itself, count
// the waiter and take the room channel (beginWait), retry, then sleep if
// the retry found no room (endWait).

// waitsForItself reports that the consumer cannot make room while we wait
// on its own thread (workers aside: their consumer is another goroutine).
func (h *Handle) waitsForItself() bool { return h.c.workers.Load() <= 1 && h.ServedHere() }

// beginWait counts a Go waiter and returns the room channel, taken before
// the retry: a release after it closes the channel.
func (h *Handle) beginWait() <-chan struct{} {
	h.goWaiters.Add(1)
	return h.roomChan()
}

// endWait follows the retry, which returned err: if it found no room, it
// sleeps until room appears (err stays ErrFull: try again) or ctx is done
// (ctx.Err(), counted). It uncounts the waiter.
func (h *Handle) endWait(ctx context.Context, room <-chan struct{}, err error) error {
	if err == ErrFull {
		select {
		case <-room:
		case <-ctx.Done():
			err = ctx.Err()
			h.goTimedOut.Add(1)
		}
	}
	h.goWaiters.Add(-1)
	return err
}

// countClosed counts a waiting post refused because the handle closed.
func (h *Handle) countClosed(err error) {
	if err == ErrClosed {
		h.goClosed.Add(1)
	}
}
