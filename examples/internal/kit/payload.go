package kit

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"
)

// A test payload is self-checking, so the receiver needs nothing but the
// bytes to tell a good one from a damaged one:
//
//	[0:8)   sequence number, little endian
//	[8:12)  CRC-32 (IEEE) of the sequence number and the body
//	[12:)   body: bytes that depend on the sequence number
//
// The checksum covers the sequence number too, and the body depends on it,
// so that a message put together from parts of two (a torn copy, a stale
// slot) fails its checksum instead of passing as either.
const HeaderLen = 12

// Payload returns the payload of message seq, n bytes long (at least
// HeaderLen).
func Payload(seq uint64, n int) []byte {
	n = max(n, HeaderLen)
	p := make([]byte, n)
	binary.LittleEndian.PutUint64(p, seq)
	Fill(p[HeaderLen:], seq)
	binary.LittleEndian.PutUint32(p[8:], checksum(p))
	return p
}

// checksum is the CRC-32 of a payload's sequence number and body.
func checksum(p []byte) uint32 {
	return crc32.Update(crc32.ChecksumIEEE(p[:8]), crc32.IEEETable, p[HeaderLen:])
}

// PayloadLen spreads payload lengths over [HeaderLen, max], so that short,
// long and full-size messages all occur.
func PayloadLen(seq uint64, max int) int {
	span := uint64(max - HeaderLen + 1)
	return HeaderLen + int((seq*7919+seq>>3)%span)
}

// VariedLen spreads payload lengths over [HeaderLen, max] the way mixed
// traffic does: most messages short (up to 256 bytes), one in 16 up to
// 4 KiB, one in 256 up to max. So a run carries every length from a few
// bytes to tens of KiB, across every boundary a copy could get wrong,
// without the largest ones dominating its time.
func VariedLen(seq uint64, max int) int {
	switch {
	case seq%256 == 255:
		return PayloadLen(seq/256, max)
	case seq%16 == 15:
		return PayloadLen(seq/16, min(4096, max))
	}
	return PayloadLen(seq, min(256, max))
}

// Fill fills b with bytes that depend on seed (xorshift64*).
func Fill(b []byte, seed uint64) {
	x := seed*0x9E3779B97F4A7C15 | 1
	for i := range b {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		b[i] = byte((x * 0x2545F4914F6CDD1D) >> 56)
	}
}

// Verify checks a payload's checksum and returns its sequence number.
func Verify(p []byte) (uint64, error) {
	if len(p) < HeaderLen {
		return 0, fmt.Errorf("payload of %d bytes, shorter than its header", len(p))
	}
	seq := binary.LittleEndian.Uint64(p)
	want := binary.LittleEndian.Uint32(p[8:])
	if got := checksum(p); got != want {
		return seq, fmt.Errorf("message %d: checksum %08x, want %08x", seq, got, want)
	}
	return seq, nil
}

// Checker checks that messages numbered 0..n-1 arrive each exactly once and
// in order. It is safe for concurrent use: an //export callback calls it on
// the library's threads.
type Checker struct {
	mu       sync.Mutex
	n        uint64
	seen     []bool
	highest  int64 // highest sequence number seen, -1 before the first
	received uint64
	corrupt  uint64
	dups     uint64
	reorder  uint64
	outside  uint64
	first    string // the first problem, for the error message
}

// NewChecker returns a checker for messages 0..n-1.
func NewChecker(n int) *Checker {
	return &Checker{n: uint64(n), seen: make([]bool, n), highest: -1}
}

// Payload verifies p (see Verify) and records its sequence number.
func (c *Checker) Payload(p []byte) {
	seq, err := Verify(p)
	if err != nil {
		c.mu.Lock()
		c.received++
		c.corrupt++
		c.note(err.Error())
		c.mu.Unlock()
		return
	}
	c.Seq(seq)
}

// Corrupt records an arrival that failed a check of the caller's own (a
// hash, a length): what says why.
func (c *Checker) Corrupt(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.received++
	c.corrupt++
	c.note(what)
}

// Seq records that message seq arrived.
func (c *Checker) Seq(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.received++
	switch {
	case seq >= c.n:
		c.outside++
		c.note(fmt.Sprintf("message %d: outside 0..%d", seq, c.n-1))
	case c.seen[seq]:
		c.dups++
		c.note(fmt.Sprintf("message %d: duplicate", seq))
	default:
		c.seen[seq] = true
		if int64(seq) < c.highest {
			c.reorder++
			c.note(fmt.Sprintf("message %d: after %d", seq, c.highest))
		} else {
			c.highest = int64(seq)
		}
	}
}

func (c *Checker) note(s string) {
	if c.first == "" {
		c.first = s
	}
}

// Received returns how many messages arrived so far, good or bad.
func (c *Checker) Received() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.received
}

// Report is what a checker found.
type Report struct {
	Expected   uint64 // messages 0..Expected-1
	Received   uint64 // arrivals, good or bad
	Missing    uint64 // numbers that never arrived intact
	Corrupt    uint64 // arrivals whose checksum failed
	Duplicates uint64
	Reordered  uint64 // arrivals numbered below one that came earlier
	Outside    uint64 // arrivals numbered Expected or more
	First      string // the first problem seen
}

// Report returns what the checker found so far.
func (c *Checker) Report() Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := Report{
		Expected: c.n, Received: c.received, Corrupt: c.corrupt,
		Duplicates: c.dups, Reordered: c.reorder, Outside: c.outside, First: c.first,
	}
	for _, s := range c.seen {
		if !s {
			r.Missing++
		}
	}
	return r
}

// Check returns nil if the only missing messages are the lost ones that
// the sender counted (posts refused because the queue stayed full), and
// nothing arrived damaged, twice or, if ordered, out of order.
func (r Report) Check(lost uint64, ordered bool) error {
	bad := r.Missing != lost || r.Corrupt+r.Duplicates+r.Outside != 0 || ordered && r.Reordered != 0
	if !bad {
		return nil
	}
	return fmt.Errorf("%d messages: %d received, %d missing (%d counted lost), %d corrupt, %d duplicates, %d reordered, %d outside; first problem: %s",
		r.Expected, r.Received, r.Missing, lost, r.Corrupt, r.Duplicates, r.Reordered, r.Outside, r.First)
}
