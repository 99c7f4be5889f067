// cconsumer.c: a consumer written in C, for the C sanitizer tests and the
// benchmark's C-only floor; never part of the library's own build. It
// follows the protocol of block.h as the Go consumer (consume.go) does.
// Guarded: cbytes.c, the byte ring's consumer, parks through it, and a test
// may include both.
#ifndef FQ_CCONSUMER_C
#define FQ_CCONSUMER_C

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__) && !defined(FQ_PORTABLE)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "block.h"

static __attribute__((unused)) int fq_c_recv(fq_ctl *c, void *msg) {
	uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed); // ours
	uint64_t mask = atomic_load_explicit(&c->mask, memory_order_relaxed);
	uint64_t cs = atomic_load_explicit(&c->cell_size, memory_order_relaxed);
	uintptr_t ring = atomic_load_explicit(&c->ring, memory_order_relaxed);
	fq_cell *cell = (fq_cell *)(ring + (uintptr_t)((h & mask) * cs));
	if (atomic_load_explicit(&cell->seq, memory_order_acquire) != ((h + 1) & FQ_POS_MASK)) {
		uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);
		if ((t & FQ_CLOSED) && (t & FQ_POS_MASK) == h)
			return -1;
		return 0;
	}
	// A stamped cell has the time of its post first (block.h, "Stamps").
	size_t stamp = (atomic_load_explicit(&c->flags, memory_order_relaxed) & FQ_FLAG_STAMP) ? FQ_STAMP : 0;
	memcpy(msg, (unsigned char *)(cell + 1) + stamp, atomic_load_explicit(&c->msg_size, memory_order_relaxed));
	// Passes the cell back to producers. seq_cst, not release: the caller's
	// next step is to load waiters, and the two are the consumer's side of
	// the waiting Dekker pair (block.h); a release store could still sit in
	// the store buffer when waiters is read, and a waiter would sleep on an
	// empty ring.
	atomic_store_explicit(&c->head, (h + 1) & FQ_POS_MASK, memory_order_seq_cst);
	return 1;
}

// fq_c_park_on parks as the Go consumer does (park.go), on the wake fd
// (medium FQ_PARK_PARKED) or, on Linux, on the futex (FQ_PARK_FUTEX).
static __attribute__((unused)) int fq_c_park_on(fq_ctl *c, uint32_t medium) {
#if !defined(__linux__) || defined(FQ_PORTABLE)
	medium = FQ_PARK_PARKED;
#endif
	uint32_t p = FQ_PARK_RUNNING;
	if (!atomic_compare_exchange_strong_explicit(&c->park, &p, medium, memory_order_seq_cst,
	                                             memory_order_relaxed))
		return 0; // a wake-up is being written; just look again
	uint64_t t = atomic_load_explicit(&c->tail, memory_order_seq_cst);
	if ((t & FQ_CLOSED) || (t & FQ_POS_MASK) != atomic_load_explicit(&c->head, memory_order_relaxed)) {
		p = medium;
		atomic_compare_exchange_strong_explicit(&c->park, &p, FQ_PARK_RUNNING,
		                                        memory_order_seq_cst, memory_order_relaxed);
		return 0;
	}
	if (medium == FQ_PARK_PARKED) {
		struct pollfd pfd = {.fd = (int)atomic_load_explicit(&c->read_fd, memory_order_relaxed),
		                     .events = POLLIN};
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
		}
		char buf[64];
		(void)!read(pfd.fd, buf, sizeof buf);
	}
#if defined(__linux__) && !defined(FQ_PORTABLE)
	else {
		// Sleeps only while the word is still FUTEX (block.h).
		syscall(SYS_futex, (uint32_t *)&c->park, FUTEX_WAIT_PRIVATE, FQ_PARK_FUTEX, NULL, NULL, 0);
	}
#endif
	p = medium;
	atomic_compare_exchange_strong_explicit(&c->park, &p, FQ_PARK_RUNNING,
	                                        memory_order_seq_cst, memory_order_relaxed);
	return 0;
}

// fq_c_park parks on the fd and the futex by turns, so that the sanitizer
// tests cover the producers' wake-ups of both.
static __attribute__((unused)) int fq_c_park(fq_ctl *c) {
	static _Thread_local unsigned turn;
	return fq_c_park_on(c, (turn++ & 1) ? FQ_PARK_FUTEX : FQ_PARK_PARKED);
}

// fq_c_close closes the ring for a C owner that is stopping its consumer:
// it sets closed (the consumer drains what was claimed, then sees it) and
// makes the wake fd readable, a spurious wake-up if the consumer was not
// parked. Producers and the consumer must be gone before the ring is freed.
static __attribute__((unused)) void fq_c_close(fq_ctl *c) {
	uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);
	while (!(t & FQ_CLOSED) && !atomic_compare_exchange_weak_explicit(&c->tail, &t, t | FQ_CLOSED,
	                                                                 memory_order_seq_cst, memory_order_acquire)) {
	}
	uint64_t one = 1;
	(void)!write((int)atomic_load_explicit(&c->wake_fd, memory_order_relaxed), &one, sizeof one);
}

#endif // FQ_CCONSUMER_C
