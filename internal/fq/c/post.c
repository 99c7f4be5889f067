// post.c: the C producer: claim a cell, publish the message, and wait for
// room when asked to. Async-signal-safe but for the waiting. The protocol
// ("Claim", "Publish", "Waiting for room") is in block.h; the Go producer,
// the same steps in Go, is post.go beside this file.
#include "fq.h"

#include <pthread.h>

// claim is the claim step of the protocol (block.h). It validates the
// token and the length against the generation it claims in, and on success
// the caller owns cell[*pos & *mask]. fresh_head makes it read the
// consumer's head instead of the cache (a waiter's retry must).
static int claim(fq_ctl *c, uint64_t tgen, int mode, size_t len, int count_full, int fresh_head,
                 uint64_t *pos_out, uint64_t *mask_out) {
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	for (;;) {
		uint64_t gen = fq_tail_gen(tail);
		if (gen != tgen)
			return fq_stale_code(tgen, gen);
		if (tail & FQ_CLOSED) {
			if (count_full) // counts each refused post once, not a waiter's retries
				atomic_fetch_add_explicit(&c->rejected_closed, 1, memory_order_relaxed);
			return FOREIGN_ECLOSED;
		}
		// These fields belong to generation gen: they were written before the
		// tail that our acquire load saw, and cannot change before a close.
		uint32_t kind = atomic_load_explicit(&c->kind, memory_order_relaxed);
		if (mode == FQ_MODE_POST) {
			if (kind != FQ_KIND_QUEUE || len != atomic_load_explicit(&c->msg_size, memory_order_relaxed))
				return FOREIGN_EINVAL;
		} else if (kind != FQ_KIND_FUNC || len != atomic_load_explicit(&c->call_arg, memory_order_relaxed)) {
			return FOREIGN_EINVAL;
		}
		uint64_t mask = atomic_load_explicit(&c->mask, memory_order_relaxed);
		uint64_t pos = tail & FQ_POS_MASK;
		// The cache is tagged with its generation: a producer of an older
		// generation may store into it late, after the block was reused; such
		// a value is ignored (treated as full, so the real head is read).
		uint64_t hc = fresh_head ? 0 : atomic_load_explicit(&c->head_cache, memory_order_acquire);
		int64_t depth = (fresh_head || fq_tail_gen(hc) != tgen) ? (int64_t)mask + 1 : fq_diff(pos, hc & FQ_POS_MASK);
		if (depth > (int64_t)mask) {
			// The cache says full; ask the consumer. This load pairs with the
			// consumer's store of head: its reads of those cells are done.
			uint64_t head = atomic_load_explicit(&c->head, memory_order_seq_cst);
			depth = fq_diff(pos, head);
			if (depth > (int64_t)mask) {
				if (count_full)
					atomic_fetch_add_explicit(&c->rejected_full, 1, memory_order_relaxed);
				return FOREIGN_EFULL;
			}
			atomic_store_explicit(&c->head_cache, (tgen << FQ_GEN_SHIFT) | head, memory_order_release);
		}
		if (depth < 0) { // our tail is older than the consumer's head
			tail = atomic_load_explicit(&c->tail, memory_order_acquire);
			continue;
		}
		uint64_t next = (tail & ~FQ_POS_MASK) | ((pos + 1) & FQ_POS_MASK);
		// seq_cst: one side of the park/wake Dekker pair (see block.h).
		if (atomic_compare_exchange_weak_explicit(&c->tail, &tail, next, memory_order_seq_cst,
		                                          memory_order_acquire)) {
			*pos_out = pos;
			*mask_out = mask;
			return 0;
		}
	}
}

// publish copies the message into the claimed cell and passes the cell to
// the consumer, waking it if it parked.
static void publish(fq_ctl *c, uint64_t gen, uint64_t pos, uint64_t mask, int mode, uint64_t hdr,
                    const void *msg, size_t len) {
	uintptr_t ring = atomic_load_explicit(&c->ring, memory_order_relaxed);
	uint64_t cs = atomic_load_explicit(&c->cell_size, memory_order_relaxed);
	fq_cell *cell = (fq_cell *)(ring + (uintptr_t)((pos & mask) * cs));
	unsigned char *dst = (unsigned char *)(cell + 1);
	if (mode == FQ_MODE_CALL) {
		__builtin_memcpy(dst, &hdr, sizeof hdr);
		dst += sizeof hdr;
	}
	if (len > 0)
		__builtin_memcpy(dst, msg, len);
	// Passes ownership of the cell to the consumer.
	atomic_store_explicit(&cell->seq, (pos + 1) & FQ_POS_MASK, memory_order_release);
	fq_notify(c, gen);
}

static void leave_waiters(void *p) {
	fq_ctl *c = p;
	atomic_fetch_sub_explicit(&c->waiters, 1, memory_order_relaxed);
}

// cancelled_waiter is the cleanup of a waiter cancelled or exiting while
// it slept: it leaves waiters and is counted as a waiter that gave up.
static void cancelled_waiter(void *p) {
	fq_ctl *c = p;
	leave_waiters(c);
	atomic_fetch_add_explicit(&c->timed_out, 1, memory_order_relaxed);
}

// wait_room is one round of waiting for room; see "Waiting" in block.h. It
// returns claim's code, or FOREIGN_ETIMEDOUT.
static int wait_room(fq_ctl *c, uint64_t tgen, int mode, size_t len, int64_t deadline, uint64_t *pos,
                     uint64_t *mask) {
	volatile int rc; // set after the cleanup handler's setjmp
	atomic_fetch_add_explicit(&c->waiters, 1, memory_order_seq_cst);
	// A waiter cancelled or exiting in fq_wait32 still leaves waiters.
	pthread_cleanup_push(cancelled_waiter, c);
	uint32_t seen = atomic_load_explicit(&c->space_seq, memory_order_seq_cst);
	rc = claim(c, tgen, mode, len, 0, 1, pos, mask);
	if (rc == FOREIGN_EFULL) {
		if (deadline >= 0 && fq_now_ns() >= deadline)
			rc = FOREIGN_ETIMEDOUT;
		else if (fq_wait32(&c->space_seq, seen, deadline) == 0)
			rc = claim(c, tgen, mode, len, 0, 1, pos, mask);
	}
	pthread_cleanup_pop(0);
	leave_waiters(c);
	return rc;
}

// begin_post checks a post's token and arguments and claims a cell (without
// waiting): 0 and the claim, a refusal's code, or 1 for a notifier's
// trigger, which has been done (a post of no payload to a notifier).
static int begin_post(foreign_token t, int mode, const void *msg, size_t len, int count, fq_ctl **cp, uint64_t *tgen,
                 uint64_t *pos, uint64_t *mask) {
	if (fq_forked())
		return FOREIGN_ECLOSED; // a child of fork(): nobody consumes here
	fq_ctl *c = *cp = fq_lookup(t);
	if (c == NULL)
		return FOREIGN_EINVAL;
	if (mode == FQ_MODE_POST && len == 0 &&
	    atomic_load_explicit(&c->kind, memory_order_relaxed) == FQ_KIND_NOTIFIER) {
		int rc = fq_trigger(t, FQ_KIND_NOTIFIER, 0);
		return rc == 0 ? 1 : rc;
	}
	if (msg == NULL && len > 0) // an empty message (a Queue[struct{}]) needs no buffer
		return FOREIGN_EINVAL;
	*tgen = fq_token_gen(t);
	return claim(c, *tgen, mode, len, count, 0, pos, mask);
}

// fq_post is the post that never waits: async-signal-safe, lock-free.
FQ_FN int fq_post(foreign_token t, int mode, uint64_t hdr, const void *msg, size_t len) {
	fq_ctl *c = NULL;
	uint64_t tgen, pos, mask;
	int rc = begin_post(t, mode, msg, len, 1, &c, &tgen, &pos, &mask);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	publish(c, tgen, pos, mask, mode, hdr, msg, len);
	return 0;
}

// fq_post_wait is the post that waits for room until deadline (negative:
// none). It blocks, and is kept apart from fq_post so that nothing of the
// waiting is reachable from the async-signal-safe entry points.
FQ_FN int fq_post_wait(foreign_token t, int mode, uint64_t hdr, const void *msg, size_t len, int64_t deadline) {
	fq_ctl *c = NULL;
	uint64_t tgen, pos, mask;
	int rc = begin_post(t, mode, msg, len, 0, &c, &tgen, &pos, &mask);
	if (rc == 1)
		return 0;
	if (rc == FOREIGN_ECLOSED && c != NULL) // refused at once: counted as a plain post's refusal is
		atomic_fetch_add_explicit(&c->rejected_closed, 1, memory_order_relaxed);
	while (rc == FOREIGN_EFULL) {
		// The consumer cannot make room while we wait on its own thread
		// (workers aside: their consumer is another goroutine).
		if (fq_served_here(t, c) && atomic_load_explicit(&c->workers, memory_order_relaxed) <= 1)
			return FOREIGN_EDEADLK;
		rc = wait_room(c, tgen, mode, len, deadline, &pos, &mask);
		if (rc == FOREIGN_ECLOSED)
			atomic_fetch_add_explicit(&c->rejected_closed, 1, memory_order_relaxed);
		if (rc == FOREIGN_ETIMEDOUT) {
			atomic_fetch_add_explicit(&c->timed_out, 1, memory_order_relaxed);
			return rc;
		}
	}
	if (rc != 0)
		return rc;
	publish(c, tgen, pos, mask, mode, hdr, msg, len);
	return 0;
}

FOREIGN_EXPORT int foreign_post(foreign_token t, const void *msg, size_t len) {
	return fq_post(t, FQ_MODE_POST, 0, msg, len);
}

FOREIGN_EXPORT int foreign_post_wait(foreign_token t, const void *msg, size_t len, int64_t timeout_ns) {
	int64_t deadline = fq_deadline(timeout_ns);
	return fq_post_wait(t, FQ_MODE_POST, 0, msg, len, deadline);
}

FQ_FN void fq_space(fq_ctl *c) {
	atomic_fetch_add_explicit(&c->space_seq, 1, memory_order_seq_cst);
	fq_wake32(&c->space_seq);
}
