/*
 * block.h: the control block of a handle and its ring, shared by C
 * producers, Go producers and the Go consumer, and the protocol they
 * follow. Internal; the public ABI is foreign.h. Types and inline helpers
 * only: the functions are declared in fq.h.
 *
 * The Go side mirrors fq_ctl in block.go; fq_layout (layout.c) lists every
 * field's offset and size, and layout_test.go checks the mirror against it.
 *
 * PROTOCOL
 *
 * The protocol is also a Promela model, model/ring.pml beside this
 * directory (and model/bytes.pml for byte rings), which spin checks exhaustively in CI (.ci/spin.sh) together
 * with seeded bugs it must catch. Its processes map to the sections below
 * (the model's header lists which); change the model with the protocol.
 *
 * Table. Control blocks live in a two-level table that is never freed:
 * FQ_CHUNKS chunk pointers, each chunk FQ_CHUNK_LEN blocks, allocated on first
 * use and published with a release store. A token is (gen << FQ_IDX_BITS) |
 * idx; gen is never 0, so token 0 and every small integer are invalid.
 * Generations only grow: a block that reaches the last one is retired
 * rather than reused, so a stale token can never name a live queue. A
 * producer with any token can therefore always read a control block: it never
 * touches freed memory before it has claimed a slot.
 *
 * Tail word. One 64-bit word holds [gen:19][closed:1][pos:44]. A producer
 * claims position pos with a single CAS of the whole word, which at the same
 * time checks that the queue is the incarnation its token names (gen) and that
 * it is open. A stale token can never claim; Close sets the closed bit with a
 * CAS and so fixes the final position F: exactly the positions before F were
 * claimed, and only those are waited for and delivered.
 *
 * Positions count modulo 2^44. Differences are taken as signed 44-bit values
 * (fq_diff), so the counters may wrap; tests start them just below the wrap.
 *
 * Claim (producer). Load tail (acquire). If gen differs: stale token. If
 * closed: ECLOSED. Depth is pos - head; producers compare against a cached copy
 * of head kept on their own cache line (head_cache) and re-read the consumer's
 * head only when the cache says full, so the fast path never touches the
 * consumer's line. The cache carries the generation it was read in: a
 * producer stalled across a close and a reuse of the block may store into it
 * late, and a value of another generation is ignored. depth >= capacity: EFULL. Otherwise CAS tail -> tail+1.
 * Success passes ownership of cell[pos & mask] to this producer. The ring
 * memory is only read after the claim: Close waits for every claimed cell,
 * so the ring cannot be freed under a producer that holds a claim.
 *
 * Publish (producer). Copy the message into the cell, then store
 * cell.seq = pos+1 (release). This passes ownership of the cell to the
 * consumer. The consumer's acquire load of seq pairs with this store.
 *
 * Consume (single consumer, Go). At head h, the cell is ready iff
 * seq == h+1 (acquire). Copy out a batch, then store head (release): this
 * passes the cells back to producers; their load of head (acquire) pairs with
 * it. A claimed but unpublished cell (tail moved, seq not yet h+1) belongs to a
 * producer that is running between its CAS and its publish; the consumer waits
 * for it (it is never abandoned: a producer cannot fail after its claim).
 *
 * Byte rings (bytes.c; bytes.go beside this directory). A handle whose
 * messages are byte strings of any length up to a maximum has a ring
 * bounded in bytes instead of cells: cell_size is 0, msg_size is the
 * longest message, mask is the data area's size in bytes minus 1, and
 * positions count bytes of it. A message is a record: its payload, padded
 * to 8 bytes (8 at least, so that every record has a position of its own),
 * at an 8-aligned position of the data area, and a header: a 32-bit word
 * in a header array beside the data (one word per 8 bytes of data, after
 * it in the same allocation), the word of the record's position. The
 * header is FQ_HDR_VALID | len, or FQ_HDR_PAD for a pad record, which
 * fills the data area's end when the next record would not fit before it,
 * so that a payload is never split and the consumer hands it out in place.
 * The ring is at least twice the largest record, so an empty ring takes any
 * message.
 *
 * Headers apart from the data are what lets the consumer trust a header
 * word without ever writing the data: a header word is 0 unless it is the
 * header of a live record. It is 0 at open (the array is zeroed), only a
 * producer stores a nonzero value, into the word of a position it claimed,
 * and the consumer stores 0 into each header it reads, before it passes
 * the record back with its store of head. Payload bytes, which are
 * anything, never land in the array. (Headers inline with the data would
 * make the consumer zero every byte it releases, lest old payload be read
 * as a header: measured, that write-back made every line of a large
 * message cross between the cores twice per lap, 0.28x memcpy at 64 KiB.)
 *
 * Claim (bytes). As a cell claim, but the CAS moves tail by the record's
 * size, plus the pad when it does not fit before the data area's end (one
 * CAS claims both), and the depth test is depth + size <= ring size - the
 * reservation (below). A message longer than msg_size is refused with
 * EMSGSIZE before anything is touched.
 *
 * Publish (bytes). Copy the payload into the data (from a gather list: no
 * intermediate copy), then store the header (release); a pad's header
 * likewise. This passes the record to the consumer, whose acquire load of
 * the header pairs with it. The word at head is therefore 0 (claimed, not
 * yet published) or the header its producer stored.
 *
 * Consume (bytes). At head h the record is ready iff its header word is
 * nonzero (acquire). The consumer stores 0 into it, skips a pad to the
 * data area's end, and hands the payload out in place for as long as its
 * handler runs; then it releases a batch at once with its store of head
 * (release), which orders its zeroing of the headers before any producer's
 * claim of those positions in the next lap.
 *
 * Reservation (bytes, waiting posts). A message waiting for room could be
 * starved forever by smaller posts that each fit into the room the consumer
 * makes. So a waiter that finds the ring full takes the reservation: it
 * CASes reserve, on the producers' line, from a word of another generation
 * or of none ([gen:19][bytes:45], bytes 0) to its generation and the room
 * it needs at worst (its record and a pad). While a reservation of the
 * current generation is set, every other post claims only if it leaves
 * that room free (depth + size <= ring - reserved), and the holder claims
 * against the whole ring. Other posts fill at most ring - reserved, and the
 * consumer drains what was there before, so the holder's room appears and
 * nothing can take it. The holder clears its reservation (a CAS from its
 * own word) when it claims, times out, is refused, or is cancelled, and
 * wakes the other waiters, one of which may take it next: it bumps
 * space_seq and wakes the C waiters (fq_space), then wakes the consumer
 * (fq_notify), because Go waiters sleep on a channel only Go can close.
 * The consumer relays: whenever it finds nothing to read it compares
 * space_seq with the value it last saw and, if it moved, closes the Go
 * waiters' channel; and it parks only if space_seq has not moved (read
 * after its park CAS, seq_cst), so either it sees the bump or the
 * wake-up sees it parked — the Dekker pair again. (model/bytes.pml, part
 * 3, found the Go waiter left asleep without this relay.) One reservation
 * at a time: waiting posts take it in turns, and never starve by small
 * posts; posts that do not wait may be refused (EFULL) while it is held.
 * A reservation of another generation is ignored, and overwritten by the
 * next waiter, so a holder stalled across a close and a reuse of the
 * block cannot block the new handle.
 *
 * Stamps. A handle opened with FQ_FLAG_STAMP (the Go side records
 * latencies) keeps, in each cell after its seq word and in each record
 * after its header, the CLOCK_MONOTONIC time in ns at which its producer
 * published it: written with the message, before the store that passes it
 * to the consumer, so it travels under the same ordering. The clock is
 * read through the vDSO: no system call, async-signal-safe. A cell is 8
 * bytes larger; a record too (a byte ring's least size grows with it).
 * Nothing else in the protocol changes.
 *
 * Counts (bytes). The tail counts bytes, not messages: a byte ring's
 * producers add to msgs and bytes (relaxed, on their own line, after the
 * claim) the messages and payload bytes they claimed.
 *
 * Park and wake (Dekker). park word: 0 running, 1 parked on the wake fd,
 * 4 parked on the futex (the park word itself), 2 a producer is writing the
 * wake-up, 3 dead (torn down). The consumer CASes park 0 -> 1 or 0 -> 4,
 * then loads tail (seq_cst); it sleeps only if nothing was claimed
 * (pos == head) and the queue is open. A producer's claim CAS is seq_cst
 * and its load of park comes after it. In the single total order either
 * the consumer's tail load sees the claim, or the producer's park load sees
 * a parked state — so a wake-up is never lost. The producer that wins
 * park 1 -> 2 or 4 -> 2 wakes the consumer once (one system call per
 * burst, not per message), then stores 0: from 1 it writes the fd and then
 * stores 0; from 4 it stores 0 and then calls FUTEX_WAKE on the park word.
 * The consumer's FUTEX_WAIT sleeps only while the word is still 4, and the
 * CAS to 2 has changed it, so the wake-up cannot fall between the
 * consumer's check and its sleep; storing 0 before the wake spares the
 * woken consumer a park word still at 2 (its next park would look again
 * until the producer had stored 0). Teardown
 * waits out state 2 and sets 3 before it closes the fd, so no producer ever
 * writes to a closed (or reused) descriptor; a late FUTEX_WAKE only touches
 * the park word of a block, which is never freed, and at worst wakes a later
 * consumer of the block spuriously.
 *
 * Why two ways to park (park.go): the wake fd is read through the runtime's
 * network poller, which holds no OS thread but notices a wake-up only when a
 * thread next polls (tens of microseconds, up to 10 ms when the process is
 * idle). A consumer parked on the futex sleeps in a cgo call and holds an OS
 * thread, but runs again as soon as the kernel wakes it. The Go side parks
 * on the futex while fewer than a fixed number of consumers do so
 * (park.go, maxFutexParked), on the fd otherwise; Linux only (the portable
 * build has no futex, and its condition-variable fallback is not
 * async-signal-safe, which a producer's wake-up must be). A consumer that
 * stops waiting for its own reasons (a context ends) CASes 4 -> 0 itself
 * and wakes the futex, as a producer would.
 *
 * Spurious wake-ups are allowed everywhere; the consumer re-checks the ring.
 *
 * Waiting for room (foreign_post_wait, Queue.PostWait, and a call's post).
 * A producer that finds the ring full adds itself to waiters (seq_cst), reads
 * space_seq, and tries again reading the consumer's head itself (seq_cst, not
 * the cache). Still full: it sleeps in fq_wait32 while space_seq is unchanged.
 * The consumer stores head (seq_cst) and then loads waiters; if any, it bumps
 * space_seq and wakes them all. Dekker again: the retry sees the new head, or
 * the consumer sees the waiter. Close bumps space_seq too, so every waiter
 * wakes and is refused with ECLOSED. A waiter that is cancelled
 * (pthread_cancel) or exits while asleep leaves through a cleanup handler
 * that takes it out of waiters; the condition-variable fallback unlocks its
 * bucket there too, and the futex sleep is a cancellation point.
 *
 * Calls (call.c). A queue made for a Go function has call_ret = result size
 * + 1 and call_arg = argument size; plain posts to it are refused and calls
 * to a plain queue are too. A calling thread owns a call slot (a table that is
 * never freed, slots recycled when threads exit). It posts an 8-byte header
 * naming its slot and the call's generation, then the argument. The slot
 * keeps the call's whole generation (gen, 39 bits, never wrapping in
 * practice) and its state word the low 24 bits of it: [gen:24][state:8]:
 * PENDING, SLEEPING (the caller is in
 * fq_wait32), COMPLETING (the consumer is writing the result), DONE,
 * ABANDONED (the caller timed out, from PENDING or SLEEPING; it sleeps
 * only until shortly before its deadline and yields through the rest, so
 * that the kernel's timer slack does not make it late). The consumer
 * completes with a CAS from
 * PENDING or SLEEPING of the same generation to COMPLETING, writes the
 * result, stores DONE and wakes the caller if it slept. A caller that times
 * out CASes to ABANDONED; if that fails the result is being written and it
 * waits for DONE. So a late result is never written into memory the caller
 * has taken back: its CAS fails and it is counted and dropped. A
 * completion whose CAS matched only the low 24 bits (the caller has made
 * 2^24 calls since the one abandoned) finds the whole generation differs
 * and puts the state back as it was: the result is dropped.
 *
 * Results go straight into the caller's buffer: the slot holds its address
 * and size (written before PENDING is stored, so the completion's CAS
 * publishes them to the consumer), and the consumer copies the result
 * there while COMPLETING — the one state in which the caller cannot give
 * the buffer up — with the result's length. A result longer than the
 * buffer is not written: the code is EMSGSIZE and the length tells the
 * caller what it needs. A function on a byte ring (cell_size 0) takes an
 * argument of any length up to msg_size - 8 and answers with any length;
 * one on a cell ring takes exactly call_arg bytes and answers with
 * call_ret - 1.
 *
 * A thread makes one call at a time: in_call (thread-local) is set for the
 * whole of foreign_call, so a call from a signal handler that interrupted
 * the same thread's call is refused (EDEADLK) instead of reusing its slot.
 * A caller cancelled (pthread_cancel) or exiting while it waits abandons
 * its slot from a cleanup handler: the slot goes back to the pool with its
 * call ABANDONED, exactly as after a timeout.
 *
 * Serving and self-deadlock. The Go side marks the OS thread that runs a
 * handler with the handle's server token (thread-local serving, set by
 * fq_serve_enter while the goroutine is locked to the thread): the handle's
 * own token, or its Loop's when it is on one. The marks nest (a stack of
 * FQ_SERVE_DEPTH): a handler that serves another handle inline, as a Close
 * serving a Loop that is not running does, still counts as serving the
 * outer one. A blocking operation that
 * would wait for the thread it runs on fails at once with EDEADLK: a call
 * into a handle whose server is this thread, and a post_wait into a full
 * queue whose server is this thread. A Func with workers > 1 allows nested
 * calls from its workers while at least one worker is not itself waiting
 * in a nested call: nested counts them, and the call that would make every
 * worker wait fails with EDEADLK.
 *
 * Signals (notifiers and interrupts, signal.c). They have no ring; the tail
 * word only carries gen and closed. The sig word is [gen:19][closed:1 at
 * bit 33][pending:1 at bit 32][value:32], the generation where the tail has
 * it. A trigger CASes sig from a word of its own generation without the
 * closed bit to PENDING|value (seq_cst; latest value wins) and, only if it
 * was not pending, writes sig_fd (readable while pending) and wakes the
 * consumer as a post does. Any close sets the closed bit in sig as well as
 * in the tail (fq_set_closed), so a trigger is either in before the close,
 * and delivered by the drain, or refused: never accepted into a handle that
 * is already torn down. The consumer takes the value with a CAS that keeps
 * gen (and closed); a single-shot notifier takes it and sets closed in the
 * same CAS, so no trigger can slip in after its one run. A Go reader of an
 * old handle (Pending, Take) compares the generation in the word it read:
 * it never sees or steals a signal of the handle that reused the block.
 *
 * Loops. A handle attached to a Loop has no consumer of its own: loop_token
 * names the Loop's ready queue and handle_id the handle in it. After a
 * publish or a trigger a producer loads scheduled (seq_cst, after its own
 * seq_cst claim or exchange); if 0 and its CAS 0 -> 1 wins, it posts
 * handle_id to the ready queue. The Loop serves the handle, stores
 * scheduled = 0 (seq_cst), then looks for more work, and if it finds some
 * and wins the CAS itself, re-queues the handle at the back. Each handle is
 * in the ready queue at most once, so a ready queue as large as the number
 * of handles can never be full. scheduled carries the generation,
 * [gen:19][flag:1], and every CAS names the generation of the token it
 * acts for: a producer that notifies late, after the block was freed and
 * reused, fails its CAS instead of marking the new handle scheduled while
 * posting the old one's id (which would leave the new handle off the ready
 * queue for good). A finished handle keeps its flag set, so a late notify
 * of its own generation cannot queue it either.
 *
 * References (foreign_acquire/foreign_release, refs.c). refs is
 * [gen:19][go:1 at bit 44][count:44]: the generation (so a stale token's
 * CAS fails), the Go side's own reference as a bit of its own, and the
 * count of C references. C can therefore never drop the Go reference: a
 * foreign_release with no matching acquire finds count 0, is refused with
 * EINVAL and changes nothing. acquire raises the count unless the handle is
 * closed or no reference is left (ECLOSED). The Go side clears its bit
 * once (Release; again is a no-op). Whichever step leaves neither the bit
 * nor a count closes the handle exactly as Close does; from foreign_release
 * with only a CAS and a consumer wake-up, so it is async-signal-safe. The
 * consumer drains, tears down and runs the Go OnClose hook once.
 *
 * Generations on the Go side. Every operation through a Go handle names
 * the generation it was opened with: Close (fq_close_token), wake-ups
 * (fq_kick), references, signals. Once its block is freed and reused, an
 * old Go value is inert: its operations find another generation and do
 * nothing (or report ErrClosed).
 *
 * Fork. A child of fork() inherits the handles' memory but none of their
 * consumers: every ABI call in it fails at once with ECLOSED (fork.c sets
 * forked in its atfork child handler; each entry point checks it first, a
 * relaxed load of a word nothing writes). Nothing it does reaches the
 * parent: no post is accepted, so no wake fd (shared with the parent) is
 * written. The library's two locks are held by the forking thread across
 * fork() and reinitialised in the child, so none is inherited held by a
 * thread the child does not have.
 *
 * Stats. posted is the number of claims: free, it is the tail. The high-water
 * depth is measured by the consumer at each batch (producers only know a
 * lagging head, which would overstate it). Rejections and wake-ups are
 * counted on a cold line, off the fast path.
 */
#ifndef FOREIGN_FQ_BLOCK_H
#define FOREIGN_FQ_BLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "foreign.h"

#define FQ_IDX_BITS 16
#define FQ_CHUNK_BITS 8
#define FQ_CHUNK_LEN (1u << FQ_CHUNK_BITS)                   /* blocks per chunk */
#define FQ_CHUNKS (1u << (FQ_IDX_BITS - FQ_CHUNK_BITS))      /* chunks */
#define FQ_MAX_QUEUES (FQ_CHUNKS * FQ_CHUNK_LEN)             /* 65536 live queues */

#define FQ_POS_BITS 44
#define FQ_POS_MASK ((UINT64_C(1) << FQ_POS_BITS) - 1)
#define FQ_CLOSED (UINT64_C(1) << FQ_POS_BITS)
#define FQ_GEN_SHIFT (FQ_POS_BITS + 1)
#define FQ_GEN_BITS 19
#define FQ_GEN_MASK ((UINT64_C(1) << FQ_GEN_BITS) - 1)

#define FQ_PARK_RUNNING 0
#define FQ_PARK_PARKED 1
#define FQ_PARK_WAKING 2
#define FQ_PARK_DEAD 3
#define FQ_PARK_FUTEX 4

#define FQ_MAX_CAPACITY (1u << 24)
#define FQ_MAX_MSG (1u << 24)          /* a cell's message */
#define FQ_MAX_RING ((uint64_t)1 << 32) /* bytes of a cell ring, and of a byte ring */
#define FQ_MAX_BYTES_MSG ((1u << 30) - 64) /* a byte ring's message: under FQ_HDR_LEN */
#define FQ_HDR_VALID UINT32_C(0x80000000) /* a byte ring's header: a record, its len below */
#define FQ_HDR_PAD UINT32_C(0x40000000)   /* a pad record */
#define FQ_HDR_LEN UINT32_C(0x3FFFFFFF)   /* the len bits */

#define FQ_LINE 64
#define FQ_SERVE_DEPTH 8 /* nested serving marks a thread keeps */

/* A cell: the sequence word, then the message, padded to 8 bytes. */
typedef struct {
	_Atomic uint64_t seq;
	/* message bytes follow */
} fq_cell;

typedef struct fq_ctl {
	/* Line 0: written by producers on every post. */
	_Atomic uint64_t tail;       /* [gen][closed][pos] */
	_Atomic uint64_t head_cache; /* [gen][0][pos]: producers' copy of head; may lag */
	_Atomic uint64_t reserve;    /* byte rings: [gen][bytes] a waiting post holds (see "Reservation") */
	_Atomic uint64_t msgs;       /* byte rings: messages claimed */
	_Atomic uint64_t bytes;      /* byte rings: payload bytes claimed */
	char pad0[FQ_LINE - 5 * 8];

	/* Line 1: written at open only; read by everyone. Atomics (relaxed)
	 * because a stale producer may read them while the block is reused. */
	_Atomic(uintptr_t) ring;     /* cells, FQ_LINE-aligned */
	_Atomic uint64_t mask;       /* capacity - 1 */
	_Atomic uint64_t cell_size;  /* bytes per cell */
	_Atomic uint64_t msg_size;   /* bytes per message */
	_Atomic uint64_t start;      /* position of the first message */
	_Atomic int64_t wake_fd;     /* written to wake the consumer */
	_Atomic uint32_t wake_kind;  /* FQ_WAKE_* */
	_Atomic uint32_t kind;       /* FQ_KIND_* */
	_Atomic uint32_t call_ret;   /* 0: a queue; else a function, result size + 1 */
	_Atomic uint32_t flags;      /* FQ_FLAG_* */

	/* Line 2: written by the consumer once per batch. */
	_Atomic uint64_t head;
	_Atomic uint64_t high_water; /* largest depth the consumer saw */
	char pad2[FQ_LINE - 2 * 8];

	/* Line 3: written at park and schedule transitions; read on every post. */
	_Atomic uint32_t park;
	_Atomic uint32_t scheduled;  /* on its Loop's ready queue */
	_Atomic uint64_t loop_token; /* the Loop's ready queue, or 0 */
	_Atomic uint64_t handle_id;  /* this handle's id in that Loop */
	_Atomic uint64_t sig;        /* signals: FQ_SIG_PENDING | value */
	_Atomic int64_t sig_fd;      /* signals: readable while pending, or -1 */
	_Atomic int64_t sig_wfd;     /* its write end (the same fd for an eventfd) */
	_Atomic int64_t sig_inflight; /* triggers between their check and their fd write */
	char pad3[FQ_LINE - 7 * 8];

	/* Line 4: cold counters, written on error paths and wake-ups. */
	_Atomic uint64_t rejected_full;
	_Atomic uint64_t rejected_closed;
	_Atomic uint64_t wakeups;
	_Atomic int64_t read_fd;     /* consumer end (pipe) or same as wake_fd */
	_Atomic uint64_t timed_out;  /* waits and calls that gave up */
	_Atomic uint64_t call_arg;   /* a function's argument size */
	_Atomic uint32_t workers;    /* a function's worker goroutines (1 or more) */
	_Atomic uint32_t nested;     /* workers waiting in a call into their own function */
	_Atomic uint32_t space_seq;  /* bumped when room appears for waiters */
	_Atomic uint32_t waiters;    /* producers waiting for room */

	/* Line 5: references (foreign_acquire/release): [gen:19][go:1][count:44]. */
	_Atomic uint64_t refs;
	char pad5[FQ_LINE - 8];
} fq_ctl;

#define FQ_KIND_QUEUE 0
#define FQ_KIND_FUNC 1
#define FQ_KIND_NOTIFIER 2
#define FQ_KIND_INTERRUPT 3
#define FQ_SIG_PENDING (UINT64_C(1) << 32)
#define FQ_SIG_CLOSED (UINT64_C(1) << 33)
#define FQ_SIG_VALUE UINT64_C(0xFFFFFFFF)
#define FQ_REFS_GO (UINT64_C(1) << FQ_POS_BITS)
#define FQ_REFS_COUNT (FQ_REFS_GO - 1)

#define FQ_WAKE_EVENTFD 1
#define FQ_WAKE_PIPE 2

#define FQ_FLAG_STAMP 1u /* each message carries the time of its post (see "Stamps") */
#define FQ_STAMP 8       /* its size, after the seq word or the record header */


/* fq_token_gen is the generation a token names. */
static inline uint64_t fq_token_gen(foreign_token t) { return ((uint64_t)t >> FQ_IDX_BITS) & FQ_GEN_MASK; }

/* fq_tail_gen is the generation a tail word carries. */
static inline uint64_t fq_tail_gen(uint64_t tail) { return tail >> FQ_GEN_SHIFT; }

/* fq_stale_code is the answer to a token whose generation tgen is not the
 * block's current one, gen: a generation the block never reached (or a
 * block never opened, gen 0) is an invalid token; an earlier one names a
 * handle that was closed. Generations never wrap (fq_free retires a block at
 * the last one), so "earlier" is a plain comparison. */
static inline int fq_stale_code(uint64_t tgen, uint64_t gen) {
	return (gen == 0 || tgen > gen) ? FOREIGN_EINVAL : FOREIGN_ECLOSED;
}

/* fq_diff is a - b as a signed 44-bit quantity. */
static inline int64_t fq_diff(uint64_t a, uint64_t b) {
	return (int64_t)((a - b) << (64 - FQ_POS_BITS)) >> (64 - FQ_POS_BITS);
}

/* Calls (call.c): the largest result of a fixed size. */
#define FQ_MAX_RET FQ_MAX_MSG

/* fq_rec_size is the data bytes of a record with a payload of len bytes
 * (without its stamp). */
static inline uint64_t fq_rec_size(uint64_t len) { return len <= 8 ? 8 : (len + 7) & ~(uint64_t)7; }

/* fq_hdrs is the header array of a byte ring whose data area is size
 * bytes at ring; fq_hdr the header word of the record at pos. */
static inline _Atomic uint32_t *fq_hdrs(uintptr_t ring, uint64_t size) { return (_Atomic uint32_t *)(ring + size); }
static inline _Atomic uint32_t *fq_hdr(uintptr_t ring, uint64_t mask, uint64_t pos) {
	return fq_hdrs(ring, mask + 1) + ((pos & mask) >> 3);
}

/* The modes of the shared post path (post.c): what the token must name and
 * how len is checked; a call posts an 8-byte header before the argument. */
enum { FQ_MODE_POST, FQ_MODE_CALL };

/* A message to post (post.c): a gather list of len bytes in all, and for a
 * call the header that goes before it. */
typedef struct {
	const struct foreign_iovec *iov;
	int iovcnt;
	int mode;
	size_t len;
	uint64_t hdr;
} fq_msg;

/* A claim (post.c): the position claimed and the ring's mask; for a byte
 * ring, bytes is 1 and rec the record's position (pos, or after a pad). */
typedef struct {
	uint64_t pos, mask, rec;
	int bytes, stamp; /* stamp: the handle keeps stamps (FQ_FLAG_STAMP) */
} fq_claim;

/* fq_msg_len is the length of a message as it sits in the ring. */
static inline uint64_t fq_msg_len(const fq_msg *m) { return m->len + (m->mode == FQ_MODE_CALL ? sizeof m->hdr : 0); }

/* Arguments of fq_open (table.c). For signals, msg_size and capacity are 0
 * (no ring) and with_fd asks for a sig_fd. loop_token and handle_id attach
 * the handle to a Loop (0: its own consumer). */
typedef struct {
	uint64_t msg_size, capacity, start;
	int wake_kind, kind, with_fd;
	int64_t call_arg, call_ret;
	uint64_t loop_token, handle_id;
	uint32_t workers; /* a function's worker goroutines; 0 means 1 */
	int bytes;        /* a byte ring: capacity in bytes, msg_size the longest message */
	uint32_t flags;   /* FQ_FLAG_* */
} fq_open_args;

#endif /* FOREIGN_FQ_BLOCK_H */
