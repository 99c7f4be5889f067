package bench

// The byte-string scenario: C threads hand byte strings of a given length
// to a Go consumer, through this library's byte queue or through what a Go
// programmer would write without it. The C side is bytes.c.

/*
#include "harness.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign"
)

// The byte-string strategies. [Pipe] is one of them too: a length-prefixed
// record per message.
const (
	BytesPost  Strategy = "foreign_post"   // foreign_post into a foreign.ByteQueue
	BytesPostv Strategy = "foreign_postv"  // foreign_postv of a header and the payload
	GoBytes    Strategy = "export+GoBytes" // //export callback: C.GoBytes, then a channel send
	GoPool     Strategy = "export+pool"    // //export callback: copy into a pooled buffer, then a channel send
	SeqPacket  Strategy = "seqpacket"      // send on an AF_UNIX SOCK_SEQPACKET socket, read by a goroutine
	Memcpy     Strategy = "memcpy"         // C only: memcpy into a buffer of the ring's size (the limit)
)

// ByteStrategies are the strategies [MeasureBytes] runs, the limit first,
// then this library's, then the alternatives.
var ByteStrategies = []Strategy{Memcpy, BytesPost, BytesPostv, GoBytes, GoPool, Pipe, SeqPacket}

// ByteAlternatives are the strategies of ByteStrategies that do without
// this library and deliver to Go.
var ByteAlternatives = []Strategy{GoBytes, GoPool, Pipe, SeqPacket}

// ByteLatencyStrategies are the strategies [MeasureBytesLatency] times,
// the timing floor first.
var ByteLatencyStrategies = []Strategy{Noop, BytesPost, BytesPostv, GoBytes, GoPool, Pipe, SeqPacket}

// BytesHeader is the length of every byte string's header (bh_bhdr): its
// sequence number, its producer and its length. A message is at least
// that long.
const BytesHeader = int(C.BH_BHDR)

// how is the strategy's name in bytes.c (BH_B_*).
func (s Strategy) how() int {
	switch s {
	case BytesPost:
		return int(C.BH_B_POST)
	case BytesPostv:
		return int(C.BH_B_POSTV)
	case GoBytes:
		return int(C.BH_B_GOBYTES)
	case GoPool:
		return int(C.BH_B_POOL)
	case Pipe:
		return int(C.BH_B_PIPE)
	case SeqPacket:
		return int(C.BH_B_SEQPACKET)
	case Memcpy:
		return int(C.BH_B_MEMCPY)
	}
	return 0
}

// BytesConfig configures [MeasureBytes].
type BytesConfig struct {
	Strategy  Strategy // one of ByteStrategies
	Producers int      // C producer threads; 0 means 1 (memcpy: copying threads)
	Size      int      // every message's length in bytes, header included; 0 means 256
	Messages  int      // per producer; 0 means 10,000

	// Ring is the memory every strategy gets to buffer messages in: the
	// byte queue's ring, memcpy's destination, the pipe's and the socket's
	// buffer, and the channels' capacity (Ring / the message's share of a
	// ring, at least 16). 0 means 1 MiB, the byte queue's default, or the
	// least power of two that holds two messages if that is more.
	Ring int

	// Timeout bounds the wait for the consumer. 0 means 60 s.
	Timeout time.Duration

	// Spin makes a byte-queue producer that finds the queue full retry
	// foreign_post after a pause (1 µs, then sched_yield), as the
	// throughput scenario's producers do, instead of waiting for room
	// with foreign_post_wait (foreign_postv_wait), as the other strategies
	// wait in a blocking write or channel send. A spinning producer keeps
	// its CPU, which the consumer may be waiting for on a busy machine.
	Spin bool
}

// BytesResult is what one byte-string run did.
type BytesResult struct {
	Strategy  Strategy
	Producers int
	Size      int

	Messages uint64        // received and checked by the consumer (memcpy: copied)
	Bytes    uint64        // their bytes
	Elapsed  time.Duration // from the first send to the receipt of the last message
	Retries  uint64        // posts refused as full, then retried after a pause (Spin, or a wait that timed out)
	Waits    uint64        // byte-queue posts that found the queue full and waited for room
	Mallocs  uint64        // Go heap allocations while the messages flowed
	Wakeups  uint64        // system calls producers made to wake the consumer (byte queue)
}

// MsgsPerSec is the consumer's receive rate in messages.
func (r BytesResult) MsgsPerSec() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

// MBPerSec is the consumer's receive rate in MB (10^6 bytes) per second.
func (r BytesResult) MBPerSec() float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }

// AllocsPerMsg is Go heap allocations per message.
func (r BytesResult) AllocsPerMsg() float64 { return float64(r.Mallocs) / float64(max(r.Messages, 1)) }

const (
	defaultRing   = 1 << 20
	maxByteSize   = 1 << 20
	maxProducersB = 64
)

func (cfg *BytesConfig) check() error {
	if !slices.Contains(ByteStrategies, cfg.Strategy) {
		return fmt.Errorf("bench: %q is not a byte-string strategy", cfg.Strategy)
	}
	if cfg.Producers < 0 || cfg.Size < 0 || cfg.Messages < 0 || cfg.Ring < 0 || cfg.Timeout < 0 {
		return errors.New("bench: negative byte-string setting")
	}
	if cfg.Producers == 0 {
		cfg.Producers = 1
	}
	if cfg.Size == 0 {
		cfg.Size = 256
	}
	if cfg.Messages == 0 {
		cfg.Messages = 10_000
	}
	if cfg.Ring == 0 {
		cfg.Ring = defaultRing
		for cfg.Ring < 2*int(recBytes(cfg.Size)) {
			cfg.Ring *= 2
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	switch {
	case cfg.Producers > maxProducersB:
		return fmt.Errorf("bench: %d producers, at most %d", cfg.Producers, maxProducersB)
	case cfg.Size < BytesHeader || cfg.Size > maxByteSize:
		return fmt.Errorf("bench: message size %d out of range [%d, %d]", cfg.Size, BytesHeader, maxByteSize)
	case cfg.Ring&(cfg.Ring-1) != 0 || cfg.Ring < 2*int(recBytes(cfg.Size)):
		return fmt.Errorf("bench: ring %d: want a power of two of at least two %d-byte records", cfg.Ring, recBytes(cfg.Size))
	}
	return nil
}

// recBytes is the ring bytes a message of n bytes takes (the byte queue's
// layout: an 8-byte header, the payload padded to 8).
func recBytes(n int) uint64 { return 8 + (uint64(n)+7)&^7 }

// MeasureBytes runs one byte-string run: it starts the consumer and the
// producer threads, lets the producers go, waits until the consumer has
// every message, and checks that every one arrived whole, once, in order
// per producer.
func MeasureBytes(cfg BytesConfig) (BytesResult, error) {
	if err := cfg.check(); err != nil {
		return BytesResult{}, err
	}
	res := BytesResult{Strategy: cfg.Strategy, Producers: cfg.Producers, Size: cfg.Size}
	total := uint64(cfg.Producers) * uint64(cfg.Messages)
	bc, err := startByteConsumer(cfg.Strategy, cfg.Producers, total, cfg.Size, cfg.Ring, false)
	if err != nil {
		return res, err
	}
	d, err := newBDest(cfg.Strategy, bc.target, cfg.Size, cfg.Producers, cfg.Ring, !cfg.Spin)
	if err != nil {
		_ = bc.close()
		return res, err
	}
	defer d.free()
	t, err := newCTput(int(C.BH_BYTES), d.target(), cfg.Producers, cfg.Messages, 0)
	if err != nil {
		_ = bc.close()
		return res, fmt.Errorf("bench: start producers: %w", err)
	}
	// Made before the first MemStats read, so as not to count themselves.
	timeout := time.NewTimer(cfg.Timeout)
	defer timeout.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()

	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t.start()
	done := true
	if bc.chk != nil {
		done = waitGo(t, bc.chk.done, timeout.C, poll.C)
	}
	runtime.ReadMemStats(&ms1)
	if !done {
		t.abort()
	}
	r := t.finish()
	cerr := bc.close()

	res.Retries = r.retries
	res.Waits = d.waits()
	res.Mallocs = ms1.Mallocs - ms0.Mallocs
	if bc.wakeups != nil {
		res.Wakeups = bc.wakeups()
	}
	var bad uint64
	if chk := bc.chk; chk != nil {
		// close has waited for the consumer to stop: its fields are ours.
		res.Messages, res.Bytes, bad = chk.n, chk.bytes, chk.bad.Load()
		res.Elapsed = time.Duration(chk.endNs - r.startNs)
	} else {
		d.checksum() // memcpy: the copies are read, so they cannot be elided
		res.Messages, res.Bytes = r.sent, r.sent*uint64(cfg.Size)
		res.Elapsed = time.Duration(r.prodEndNs - r.startNs)
	}
	switch {
	case r.badCode != 0:
		return res, fmt.Errorf("bench: %s: producer failed: %s", cfg.Strategy, strerror(r.badCode))
	case !done:
		return res, fmt.Errorf("bench: %s: consumer received %d of %d messages in %v",
			cfg.Strategy, res.Messages, total, cfg.Timeout)
	case bad != 0:
		return res, fmt.Errorf("bench: %s: %d messages wrong, out of order or repeated (first: %s)",
			cfg.Strategy, bad, bc.chk.firstBad())
	case res.Messages != total || res.Bytes != total*uint64(cfg.Size):
		return res, fmt.Errorf("bench: %s: consumer received %d of %d messages, %d of %d bytes",
			cfg.Strategy, res.Messages, total, res.Bytes, total*uint64(cfg.Size))
	case cerr != nil:
		return res, cerr
	}
	return res, nil
}

// BytesLatencyConfig configures [MeasureBytesLatency].
type BytesLatencyConfig struct {
	Strategy Strategy // one of ByteLatencyStrategies
	Size     int      // message length, header included; 0 means 256
	Events   int      // timed posts; 0 means 100,000
	Rate     int      // posts per second; 0 means 1,000,000
	Burst    int      // timed posts per hand-off to the C thread; 0 means 10,000
	Ring     int      // as BytesConfig.Ring; 0 means 1 MiB
	Timeout  time.Duration
}

// MeasureBytesLatency times each post of one C thread posting Size-byte
// messages at a steady Rate, as a [Prober] does, while the strategy's
// consumer checks every message. It returns the summary, the samples in
// ns (sorted), and an error if a post failed or a message was lost. The
// allocations per message cover the whole run.
func MeasureBytesLatency(cfg BytesLatencyConfig) (LatencyResult, []float64, error) {
	res := LatencyResult{Strategy: cfg.Strategy}
	if !slices.Contains(ByteLatencyStrategies, cfg.Strategy) {
		return res, nil, fmt.Errorf("bench: %q is not a byte-string latency strategy", cfg.Strategy)
	}
	if cfg.Size == 0 {
		cfg.Size = 256
	}
	if cfg.Events <= 0 {
		cfg.Events = 100_000
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 1_000_000
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 10_000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	var (
		kind   = kindNoop
		target uintptr
		bc     = &byteConsumer{close: func() error { return nil }}
	)
	if cfg.Strategy != Noop {
		bcfg := BytesConfig{Strategy: cfg.Strategy, Size: cfg.Size, Messages: 1, Ring: cfg.Ring}
		if err := bcfg.check(); err != nil {
			return res, nil, err
		}
		var err error
		if bc, err = startByteConsumer(cfg.Strategy, 1, 0, bcfg.Size, bcfg.Ring, true); err != nil {
			return res, nil, err
		}
		d, err := newBDest(cfg.Strategy, bc.target, bcfg.Size, 1, bcfg.Ring, false)
		if err != nil {
			_ = bc.close()
			return res, nil, err
		}
		defer d.free()
		kind, target = int(C.BH_BYTES), d.target()
	}
	p, err := newCProber(kind, target, cfg.Burst)
	if err != nil {
		_ = bc.close()
		return res, nil, fmt.Errorf("bench: start prober: %w", err)
	}
	warmup := max(cfg.Rate/1000, 1)
	period := 1e9 / float64(cfg.Rate)
	var samples []uint64
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for left := cfg.Events; left > 0 && err == nil; {
		n := min(left, cfg.Burst)
		var b burst
		if b, err = p.run(warmup, n, period, false); err != nil {
			break
		}
		res.Accepted += b.accepted
		res.Rejected += b.rejected
		res.Late += b.late
		if b.failed > 0 {
			err = fmt.Errorf("bench: %s: %d of %d posts failed: %s", cfg.Strategy, b.failed, warmup+n, strerror(b.lastCode))
			break
		}
		if bc.chk != nil {
			err = bc.chk.await(res.Accepted, cfg.Timeout)
		}
		samples = append(samples, p.samples(n)...)
		left -= n
	}
	runtime.ReadMemStats(&ms1)
	p.free()
	if cerr := bc.close(); err == nil {
		err = cerr
	}
	if chk := bc.chk; chk != nil {
		res.Delivered = chk.n
		if err == nil && chk.bad.Load() != 0 {
			err = fmt.Errorf("bench: %s: %d messages wrong, out of order or repeated (first: %s)",
				cfg.Strategy, chk.bad.Load(), chk.firstBad())
		}
		if err == nil && chk.n != res.Accepted {
			err = fmt.Errorf("bench: %s: consumer received %d of %d messages", cfg.Strategy, chk.n, res.Accepted)
		}
	}
	if bc.wakeups != nil {
		res.Wakeups = bc.wakeups()
	}
	res.AllocsPerMsg = float64(ms1.Mallocs-ms0.Mallocs) / float64(max(res.Accepted, 1))
	summarize(&res, samples, nsPerTick(), 0)
	return res, toNs(samples, nsPerTick(), 0), err
}

// ---- The Go consumers ----

// byteChecker is every byte-string consumer's work, the same for every
// strategy: touch each message (its header, its length, its last byte),
// check that it arrived whole, and in order per producer with no gap and
// no repeat, count it, and note when the last expected one arrives. Its
// plain fields belong to the consumer goroutine; others read them only
// after done is closed or the consumer has stopped.
type byteChecker struct {
	size  int
	next  []uint64 // per producer: the sequence number expected next
	total uint64   // close done when n reaches it; 0: never
	n     uint64
	bytes uint64
	sum   uint64 // of the last bytes: the touch has a use
	endNs int64  // CLOCK_MONOTONIC at the last expected message
	done  chan struct{}

	publish bool          // keep got current (for a poller)
	got     atomic.Uint64 // n, when publish
	bad     atomic.Uint64 // messages wrong, out of order or repeated
	first   atomic.Pointer[string]
}

func newByteChecker(producers int, total uint64, size int, publish bool) *byteChecker {
	return &byteChecker{size: size, next: make([]uint64, producers), total: total, done: make(chan struct{}), publish: publish}
}

func (c *byteChecker) check(m []byte) {
	if len(m) != c.size || len(m) < BytesHeader {
		c.fail(fmt.Sprintf("a message of %d bytes, want %d", len(m), c.size))
	} else {
		seq := binary.NativeEndian.Uint64(m)
		p := binary.NativeEndian.Uint32(m[8:])
		n := binary.NativeEndian.Uint32(m[12:])
		last := m[len(m)-1]
		c.sum += uint64(last)
		switch {
		case int(n) != len(m):
			c.fail(fmt.Sprintf("length field %d in a %d-byte message", n, len(m)))
		case int(p) >= len(c.next) || seq != c.next[p]:
			c.fail(fmt.Sprintf("producer %d seq %d", p, seq))
		case len(m) > BytesHeader && last != byte(seq):
			c.fail(fmt.Sprintf("producer %d seq %d: last byte %#x", p, seq, last))
		default:
			c.next[p]++
		}
	}
	c.n++
	c.bytes += uint64(len(m))
	if c.publish {
		c.got.Store(c.n)
	}
	if c.n == c.total {
		c.endNs = nowNs()
		close(c.done)
	}
}

// fail counts a bad message and keeps the first one's description. It is
// off the path of a good message, so its allocation is too.
func (c *byteChecker) fail(what string) {
	if c.bad.Add(1) == 1 {
		c.first.Store(&what)
	}
}

func (c *byteChecker) firstBad() string {
	if s := c.first.Load(); s != nil {
		return *s
	}
	return "none"
}

// await waits until the consumer has n messages (a publishing checker).
func (c *byteChecker) await(n uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for c.got.Load() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: consumer received %d of %d messages in %v", c.got.Load(), n, timeout)
		}
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}

// byteConsumer is a strategy's Go consumer: target is what the C senders
// send to, close stops it once no sender will send any more (after the
// consumer has what was sent) and frees what it holds.
type byteConsumer struct {
	chk     *byteChecker // nil for memcpy
	target  uintptr
	close   func() error
	wakeups func() uint64
}

// startByteConsumer starts strategy s's consumer for producers C threads
// sending total messages (0: unbounded) of size bytes, with ring bytes to
// buffer them in.
func startByteConsumer(s Strategy, producers int, total uint64, size, ring int, publish bool) (*byteConsumer, error) {
	chk := newByteChecker(producers, total, size, publish)
	bc := &byteConsumer{chk: chk}
	switch s {
	case Memcpy:
		bc.chk = nil
		bc.close = func() error { return nil }
	case BytesPost, BytesPostv:
		// The handler gets each message in place in the ring.
		q, err := foreign.NewByteQueue(chk.check, foreign.ByteQueueConfig{Capacity: ring, MaxMessage: size, Name: "bench-bytes"})
		if err != nil {
			return nil, err
		}
		bc.target = uintptr(q.Token())
		bc.wakeups = func() uint64 { return q.Stats().Wakeups }
		bc.close = func() error {
			err := q.Close()
			st := q.Stats()
			if err == nil && (st.Delivered != chk.n || st.DeliveredBytes != chk.bytes || st.PostedBytes != st.DeliveredBytes) {
				err = fmt.Errorf("bench: byte queue stats %+v, consumer saw %d messages, %d bytes", st, chk.n, chk.bytes)
			}
			return err
		}
	case GoBytes, GoPool:
		capacity := min(max(ring/int(recBytes(size)), 16), 1<<16)
		sk, err := newByteSink(chk, s == GoPool, capacity, size)
		if err != nil {
			return nil, err
		}
		bc.target = uintptr(sk.slot)
		bc.close = func() error { sk.close(); return nil }
	case Pipe:
		// The write end blocks when the pipe is full, as a plain write()
		// does; the read end is non-blocking so that Go's poller parks
		// the reading goroutine. The pipe holds ring bytes, as the ring.
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			return nil, fmt.Errorf("bench: pipe: %w", err)
		}
		_, _ = fcntl(p[1], syscall.F_SETPIPE_SZ, ring) // a smaller pipe still works
		if err := syscall.SetNonblock(p[0], true); err != nil {
			syscall.Close(p[0])
			syscall.Close(p[1])
			return nil, fmt.Errorf("bench: pipe: %w", err)
		}
		bc.target = uintptr(p[1])
		bc.close = readerClose(os.NewFile(uintptr(p[0]), "pipe"), p[1], func(f *os.File) error {
			return readRecords(f, size, chk.check)
		})
	case SeqPacket:
		// One send per message, one read per message: the socket keeps
		// the boundaries, and a send of any length is atomic.
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("bench: socketpair: %w", err)
		}
		_ = syscall.SetsockoptInt(fds[1], syscall.SOL_SOCKET, syscall.SO_SNDBUF, ring)
		if err := syscall.SetNonblock(fds[0], true); err != nil {
			syscall.Close(fds[0])
			syscall.Close(fds[1])
			return nil, fmt.Errorf("bench: socketpair: %w", err)
		}
		bc.target = uintptr(fds[1])
		bc.close = readerClose(os.NewFile(uintptr(fds[0]), "seqpacket"), fds[1], func(f *os.File) error {
			buf := make([]byte, size+1) // one more: a longer record would show
			for {
				n, err := f.Read(buf)
				if err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
				chk.check(buf[:n])
			}
		})
	default:
		return nil, fmt.Errorf("bench: %q has no byte-string consumer", s)
	}
	return bc, nil
}

// readerClose starts read on f in a goroutine and returns the consumer's
// close: close the write end wfd, so that the reader drains to EOF, and
// wait for it.
func readerClose(f *os.File, wfd int, read func(*os.File) error) func() error {
	done := make(chan error, 1)
	go func() {
		err := read(f)
		f.Close()
		done <- err
	}()
	return func() error {
		syscall.Close(wfd)
		if err := <-done; err != nil {
			return fmt.Errorf("bench: reader: %w", err)
		}
		return nil
	}
}

// readRecords reads [u64 length][message] records from r into one large
// buffer and hands each whole record to handle in place, until EOF: the
// fewest system calls and no copy but a partial record's, moved to the
// front.
func readRecords(r io.Reader, size int, handle func([]byte)) error {
	buf := make([]byte, max(4*(size+8), 256<<10))
	have := 0
	for {
		n, err := r.Read(buf[have:])
		have += n
		off := 0
		for have-off >= 8 {
			l := binary.NativeEndian.Uint64(buf[off:])
			if l > uint64(size) {
				return fmt.Errorf("a record of %d bytes, want %d", l, size)
			}
			if have-off-8 < int(l) {
				break
			}
			handle(buf[off+8 : off+8+int(l)])
			off += 8 + int(l)
		}
		have = copy(buf, buf[off:have])
		if err == io.EOF {
			if have != 0 {
				return fmt.Errorf("%d bytes of a record left at EOF", have)
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func fcntl(fd, cmd, arg int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), uintptr(arg))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// byteSinks are the channels of the export+GoBytes and export+pool
// strategies, named by index as the export+chan sinks are.
var byteSinks [16]atomic.Pointer[byteSink]

// byteSink is a buffered channel of byte strings drained by a goroutine:
// what a cgo callback that wants its bytes on a goroutine does, with a new
// slice per message (ch) or a pooled one (pch, pool).
type byteSink struct {
	slot    int
	ch      chan []byte
	pch     chan *[]byte
	pool    sync.Pool
	drained chan struct{}
}

func newByteSink(c *byteChecker, pooled bool, capacity, size int) (*byteSink, error) {
	s := &byteSink{slot: -1, drained: make(chan struct{})}
	if pooled {
		s.pch = make(chan *[]byte, capacity)
		s.pool.New = func() any {
			b := make([]byte, 0, size)
			return &b
		}
	} else {
		s.ch = make(chan []byte, capacity)
	}
	for i := range byteSinks {
		if byteSinks[i].CompareAndSwap(nil, s) {
			s.slot = i
			break
		}
	}
	if s.slot < 0 {
		return nil, errors.New("bench: all byte sinks in use")
	}
	go func() {
		defer close(s.drained)
		if pooled {
			for b := range s.pch {
				c.check(*b)
				s.pool.Put(b)
			}
			return
		}
		for b := range s.ch {
			c.check(b)
		}
	}()
	return s, nil
}

// close stops the drain after what was sent. No C thread may send any more.
func (s *byteSink) close() {
	if s.pch != nil {
		close(s.pch)
	} else {
		close(s.ch)
	}
	<-s.drained
	byteSinks[s.slot].Store(nil)
}

// bDest is a bh_bdest: the C senders of one run.
type bDest struct{ d *C.bh_bdest }

func newBDest(s Strategy, target uintptr, size, producers, ring int, wait bool) (bDest, error) {
	var err C.int
	w := C.int(0)
	if wait {
		w = 1
	}
	d := C.bh_bdest_new(C.int(s.how()), C.uintptr_t(target), C.uint64_t(size), C.int(producers), C.uint64_t(ring), w, &err)
	if d == nil {
		return bDest{}, fmt.Errorf("bench: %s senders: %w", s, syscall.Errno(-err))
	}
	return bDest{d}, nil
}

func (d bDest) target() uintptr  { return uintptr(unsafe.Pointer(d.d)) }
func (d bDest) checksum() uint64 { return uint64(C.bh_bdest_checksum(d.d)) }
func (d bDest) waits() uint64    { return uint64(C.bh_bdest_waits(d.d)) }
func (d bDest) free()            { C.bh_bdest_free(d.d) }
