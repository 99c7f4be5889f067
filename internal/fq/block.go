// block.go: the Go mirror of the control block (c/block.h).

package fq

import "sync/atomic"

// ctl mirrors fq_ctl in c/block.h: the Go producer and the consumer use
// its words with sync/atomic, on the same memory as the C11 atomics of the
// C side (Go's atomics are sequentially consistent). layout_test.go checks
// every field's offset and size against the C layout. Each line of 64
// bytes says who writes it.
type ctl struct {
	// Written by producers on every post.
	tail      atomic.Uint64 // [gen][closed][pos]
	headCache atomic.Uint64 // producers' copy of head; may lag
	reserve   atomic.Uint64 // byte rings: [gen][bytes] a waiting post holds
	msgs      atomic.Uint64 // byte rings: messages claimed
	bytes     atomic.Uint64 // byte rings: payload bytes claimed
	_         [64 - 5*8]byte

	// Written at open only.
	ring     atomic.Uintptr
	mask     atomic.Uint64
	cellSize atomic.Uint64
	msgSize  atomic.Uint64
	start    atomic.Uint64
	wakeFd   atomic.Int64
	wakeKind atomic.Uint32
	kind     atomic.Uint32
	callRet  atomic.Uint32
	flags    atomic.Uint32

	// Written by the consumer once per batch.
	head      atomic.Uint64
	highWater atomic.Uint64
	_         [64 - 2*8]byte

	// Written at park and schedule transitions; read on every post.
	park        atomic.Uint32
	scheduled   atomic.Uint32
	loopToken   atomic.Uint64
	handleID    atomic.Uint64
	sig         atomic.Uint64
	sigFd       atomic.Int64
	sigWfd      atomic.Int64
	sigInflight atomic.Int64
	_           [64 - 7*8]byte

	// Cold counters, written on error paths and wake-ups.
	rejectedFull   atomic.Uint64
	rejectedClosed atomic.Uint64
	wakeups        atomic.Uint64
	readFd         atomic.Int64
	timedOut       atomic.Uint64
	callArg        atomic.Uint64
	workers        atomic.Uint32
	nested         atomic.Uint32
	spaceSeq       atomic.Uint32
	waiters        atomic.Uint32

	// References: [gen][go][count].
	refs atomic.Uint64
	_    [64 - 8]byte
}

// diff is a-b as a signed 44-bit number: positions wrap, so they are only
// ever compared through their difference.
func diff(a, b uint64) int64 { return int64((a-b)<<(64-posBits)) >> (64 - posBits) }
