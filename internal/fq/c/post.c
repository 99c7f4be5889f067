// post.c: the C producer: check a post, claim room, publish the message,
// and wait for room when asked to. Async-signal-safe but for the waiting.
// The protocol ("Claim", "Publish", "Waiting for room") is in block.h; the
// publish and the reservation of a byte ring are in bytes.c; the Go
// producer, the same steps in Go, is post.go beside this file.
#include "fq.h"

#include <pthread.h>

// claim_room is the claim step of the protocol (block.h, "Claim", "Claim
// (bytes)") for both kinds of ring: it claims step positions — one cell,
// or a byte ring's record of step bytes and the pad before it when the
// record would cross the data area's end — if they fit (for a byte ring,
// beside the reservation of a waiter other than the caller: holder says
// the caller holds it). The caller has checked the kind and the length in
// the generation it saw; the CAS checks that generation again. fresh_head
// makes it read the consumer's head instead of the cache (a waiter's retry
// must). len is the payload a byte ring counts.
static int claim_room(fq_ctl *c, uint64_t tgen, uint64_t tail, uint64_t step, int bytes, uint64_t len,
                      int count_full, int fresh_head, int holder, fq_claim *out) {
	for (;;) {
		uint64_t gen = fq_tail_gen(tail);
		if (gen != tgen)
			return fq_stale_code(tgen, gen);
		if (tail & FQ_CLOSED) {
			if (count_full) // counts each refused post once, not a waiter's retries
				atomic_fetch_add_explicit(&c->rejected_closed, 1, memory_order_relaxed);
			return FOREIGN_ECLOSED;
		}
		uint64_t mask = atomic_load_explicit(&c->mask, memory_order_relaxed);
		uint64_t size = mask + 1;
		uint64_t pos = tail & FQ_POS_MASK;
		uint64_t to_end = size - (pos & mask);
		uint64_t total = !bytes || step <= to_end ? step : to_end + step; // a pad fills the end
		int64_t limit = (int64_t)(size - (bytes ? fq_reserved_for_others(c, tgen, holder) : 0)) - (int64_t)total;
		// The cache is tagged with its generation: a producer of an older
		// generation may store into it late, after the block was reused; such
		// a value is ignored (treated as full, so the real head is read).
		uint64_t hc = fresh_head ? 0 : atomic_load_explicit(&c->head_cache, memory_order_acquire);
		int64_t depth = (fresh_head || fq_tail_gen(hc) != tgen) ? (int64_t)size + 1 : fq_diff(pos, hc & FQ_POS_MASK);
		if (depth > limit) {
			// The cache says no room; ask the consumer. This load pairs with
			// the consumer's store of head: its reads of that room are done.
			uint64_t head = atomic_load_explicit(&c->head, memory_order_seq_cst);
			depth = fq_diff(pos, head);
			if (depth > limit) {
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
		uint64_t next = (tail & ~FQ_POS_MASK) | ((pos + total) & FQ_POS_MASK);
		// seq_cst: one side of the park/wake Dekker pair (see block.h).
		if (atomic_compare_exchange_weak_explicit(&c->tail, &tail, next, memory_order_seq_cst,
		                                          memory_order_acquire)) {
			*out = (fq_claim){.pos = pos, .mask = mask, .rec = total == step ? pos : (pos + to_end) & FQ_POS_MASK,
			                  .bytes = bytes};
			if (bytes) {
				// Counted before the publish, so that Stats never shows a
				// message delivered and not yet posted.
				atomic_fetch_add_explicit(&c->msgs, 1, memory_order_relaxed);
				atomic_fetch_add_explicit(&c->bytes, len, memory_order_relaxed);
			}
			return 0;
		}
	}
}

// fq_stamp writes the time of the post at dst (block.h, "Stamps") and
// returns where the message goes.
static unsigned char *fq_stamp(unsigned char *dst) {
	int64_t now = fq_now_ns();
	__builtin_memcpy(dst, &now, sizeof now);
	return dst + FQ_STAMP;
}

// gather copies the message (a call's header first) to dst.
static void gather(unsigned char *dst, const fq_msg *m) {
	if (m->mode == FQ_MODE_CALL) {
		__builtin_memcpy(dst, &m->hdr, sizeof m->hdr);
		dst += sizeof m->hdr;
	}
	for (int i = 0; i < m->iovcnt; i++) {
		if (m->iov[i].len > 0)
			__builtin_memcpy(dst, m->iov[i].base, m->iov[i].len);
		dst += m->iov[i].len;
	}
}

// publish_cell copies the message into the claimed cell and passes the
// cell to the consumer, waking it if it parked.
static void publish_cell(fq_ctl *c, uint64_t gen, const fq_claim *cl, const fq_msg *m) {
	uintptr_t ring = atomic_load_explicit(&c->ring, memory_order_relaxed);
	uint64_t cs = atomic_load_explicit(&c->cell_size, memory_order_relaxed);
	fq_cell *cell = (fq_cell *)(ring + (uintptr_t)((cl->pos & cl->mask) * cs));
	unsigned char *dst = (unsigned char *)(cell + 1);
	if (cl->stamp) // see "Stamps"
		dst = fq_stamp(dst);
	gather(dst, m);
	// Passes ownership of the cell to the consumer.
	atomic_store_explicit(&cell->seq, (cl->pos + 1) & FQ_POS_MASK, memory_order_release);
	fq_notify(c, gen);
}

// claim checks the message against the handle of generation tgen and
// claims room for it: a cell, or a record of a byte ring. holder says the
// caller holds the byte ring's reservation.
static int claim(fq_ctl *c, uint64_t tgen, const fq_msg *m, int count_full, int fresh_head, int holder,
                 fq_claim *out) {
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	uint64_t gen = fq_tail_gen(tail);
	if (gen != tgen)
		return fq_stale_code(tgen, gen);
	if (tail & FQ_CLOSED) // closed comes first, as the claims' loops have it
		return claim_room(c, tgen, tail, 1, 0, 0, count_full, fresh_head, 0, out);
	// These fields belong to generation gen: they were written before the
	// tail that our acquire load saw, and cannot change before a close
	// (which the claim's CAS would see).
	uint32_t kind = atomic_load_explicit(&c->kind, memory_order_relaxed);
	if (kind != (m->mode == FQ_MODE_POST ? FQ_KIND_QUEUE : FQ_KIND_FUNC))
		return FOREIGN_EINVAL;
	uint64_t max = atomic_load_explicit(&c->msg_size, memory_order_relaxed);
	int stamp = (atomic_load_explicit(&c->flags, memory_order_relaxed) & FQ_FLAG_STAMP) != 0;
	int rc;
	if (atomic_load_explicit(&c->cell_size, memory_order_relaxed) == 0) {
		// A byte ring: any length up to the maximum (a call's includes its header).
		if (m->len > max - (m->mode == FQ_MODE_CALL ? sizeof m->hdr : 0))
			return FOREIGN_EMSGSIZE;
		rc = claim_room(c, tgen, tail, fq_rec_size(fq_msg_len(m)) + (stamp ? FQ_STAMP : 0), 1, fq_msg_len(m),
		                count_full, fresh_head, holder, out);
	} else {
		size_t want = m->mode == FQ_MODE_POST ? max : atomic_load_explicit(&c->call_arg, memory_order_relaxed);
		if (m->len != want)
			return FOREIGN_EINVAL;
		rc = claim_room(c, tgen, tail, 1, 0, 0, count_full, fresh_head, 0, out);
	}
	out->stamp = stamp;
	return rc;
}

// publish publishes a claimed message.
static void publish(fq_ctl *c, uint64_t gen, const fq_claim *cl, const fq_msg *m) {
	if (cl->bytes) {
		fq_publish_bytes(c, gen, cl, m);
		return;
	}
	publish_cell(c, gen, cl, m);
}

static void leave_waiters(void *p) {
	fq_ctl *c = p;
	atomic_fetch_sub_explicit(&c->waiters, 1, memory_order_relaxed);
}

// A waiter, while it waits: its block, and the reservation it holds (0:
// none).
struct waiter {
	fq_ctl *c;
	uint64_t reserved;
};

// cancelled_waiter is the cleanup of a waiter cancelled or exiting while
// it slept: it gives up its reservation, leaves waiters and is counted as
// a waiter that gave up.
static void cancelled_waiter(void *p) {
	struct waiter *w = p;
	fq_unreserve(w->c, w->reserved);
	leave_waiters(w->c);
	atomic_fetch_add_explicit(&w->c->timed_out, 1, memory_order_relaxed);
}

// wait_room is one round of waiting for room; see "Waiting" and
// "Reservation" in block.h. It returns claim's code, or FOREIGN_ETIMEDOUT.
static int wait_room(struct waiter *w, uint64_t tgen, const fq_msg *m, int64_t deadline, fq_claim *cl) {
	fq_ctl *c = w->c;
	volatile int rc; // set after the cleanup handler's setjmp
	atomic_fetch_add_explicit(&c->waiters, 1, memory_order_seq_cst);
	// A waiter cancelled or exiting in fq_wait32 still leaves waiters.
	pthread_cleanup_push(cancelled_waiter, w);
	uint32_t seen = atomic_load_explicit(&c->space_seq, memory_order_seq_cst);
	rc = claim(c, tgen, m, 0, 1, w->reserved != 0, cl);
	if (rc == FOREIGN_EFULL && w->reserved == 0 && (w->reserved = fq_reserve(c, tgen, fq_msg_len(m))) != 0)
		rc = claim(c, tgen, m, 0, 1, 1, cl); // the room the others leave may be enough now
	if (rc == FOREIGN_EFULL) {
		if (deadline >= 0 && fq_now_ns() >= deadline)
			rc = FOREIGN_ETIMEDOUT;
		else if (fq_wait32(&c->space_seq, seen, deadline) == 0)
			rc = claim(c, tgen, m, 0, 1, w->reserved != 0, cl);
	}
	pthread_cleanup_pop(0);
	leave_waiters(c);
	return rc;
}

// begin_post checks a post's token and arguments and claims room (without
// waiting): 0 and the claim, a refusal's code, or 1 for a notifier's
// trigger, which has been done (a post of no payload to a notifier).
static int begin_post(foreign_token t, const fq_msg *m, int count, fq_ctl **cp, uint64_t *tgen, fq_claim *cl) {
	if (fq_forked())
		return FOREIGN_ECLOSED; // a child of fork(): nobody consumes here
	fq_ctl *c = *cp = fq_lookup(t);
	if (c == NULL || m->iovcnt < 0 || m->iovcnt > FOREIGN_IOV_MAX || (m->iov == NULL && m->iovcnt > 0))
		return FOREIGN_EINVAL;
	if (m->mode == FQ_MODE_POST && m->len == 0 &&
	    atomic_load_explicit(&c->kind, memory_order_relaxed) == FQ_KIND_NOTIFIER) {
		int rc = fq_trigger(t, FQ_KIND_NOTIFIER, 0);
		return rc == 0 ? 1 : rc;
	}
	*tgen = fq_token_gen(t);
	return claim(c, *tgen, m, count, 0, 0, cl);
}

// fq_msg_init fills m with the message made of iov (a NULL base only with
// length 0): 0, or FOREIGN_EINVAL for a bad list. A call's header is
// counted apart (fq_msg_len).
FQ_FN int fq_msg_init(fq_msg *m, int mode, uint64_t hdr, const struct foreign_iovec *iov, int iovcnt) {
	m->iov = iov;
	m->iovcnt = iovcnt;
	m->mode = mode;
	m->hdr = hdr;
	m->len = 0;
	if (iovcnt < 0 || iovcnt > FOREIGN_IOV_MAX || (iov == NULL && iovcnt > 0))
		return FOREIGN_EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].base == NULL && iov[i].len > 0)
			return FOREIGN_EINVAL;
		// Saturates: no handle takes that much, and the claim refuses it
		// as its kind refuses a wrong length (EINVAL, or EMSGSIZE).
		m->len = iov[i].len > SIZE_MAX / 2 - m->len ? SIZE_MAX / 2 : m->len + iov[i].len;
	}
	return 0;
}

// fq_post is the post that never waits: async-signal-safe, lock-free.
FQ_FN int fq_post(foreign_token t, const fq_msg *m) {
	fq_ctl *c = NULL;
	uint64_t tgen;
	fq_claim cl;
	int rc = begin_post(t, m, 1, &c, &tgen, &cl);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	publish(c, tgen, &cl, m);
	return 0;
}

// fq_post_wait is the post that waits for room until deadline (negative:
// none). It blocks, and is kept apart from fq_post so that nothing of the
// waiting is reachable from the async-signal-safe entry points.
FQ_FN int fq_post_wait(foreign_token t, const fq_msg *m, int64_t deadline) {
	struct waiter w = {NULL, 0};
	uint64_t tgen;
	fq_claim cl;
	int rc = begin_post(t, m, 0, &w.c, &tgen, &cl);
	if (rc == 1)
		return 0;
	if (rc == FOREIGN_ECLOSED && w.c != NULL) // refused at once: counted as a plain post's refusal is
		atomic_fetch_add_explicit(&w.c->rejected_closed, 1, memory_order_relaxed);
	while (rc == FOREIGN_EFULL) {
		// The consumer cannot make room while we wait on its own thread
		// (workers aside: their consumer is another goroutine).
		if (fq_served_here(t, w.c) && atomic_load_explicit(&w.c->workers, memory_order_relaxed) <= 1)
			rc = FOREIGN_EDEADLK;
		else
			rc = wait_room(&w, tgen, m, deadline, &cl);
		if (rc == FOREIGN_ECLOSED)
			atomic_fetch_add_explicit(&w.c->rejected_closed, 1, memory_order_relaxed);
		if (rc == FOREIGN_ETIMEDOUT)
			atomic_fetch_add_explicit(&w.c->timed_out, 1, memory_order_relaxed);
	}
	if (w.reserved != 0)
		fq_unreserve(w.c, w.reserved); // claimed, or gave up: the next waiter may take it
	if (rc != 0)
		return rc;
	publish(w.c, tgen, &cl, m);
	return 0;
}

// fq_post1 is fq_post of one buffer.
FQ_FN int fq_post1(foreign_token t, int mode, uint64_t hdr, const void *msg, size_t len) {
	struct foreign_iovec iov = {msg, len};
	fq_msg m;
	int rc = fq_msg_init(&m, mode, hdr, &iov, msg == NULL && len == 0 ? 0 : 1);
	return rc != 0 ? rc : fq_post(t, &m);
}

FOREIGN_EXPORT int foreign_post(foreign_token t, const void *msg, size_t len) {
	return fq_post1(t, FQ_MODE_POST, 0, msg, len);
}

FOREIGN_EXPORT int foreign_postv(foreign_token t, const struct foreign_iovec *iov, int iovcnt) {
	fq_msg m;
	int rc = fq_msg_init(&m, FQ_MODE_POST, 0, iov, iovcnt);
	return rc != 0 ? rc : fq_post(t, &m);
}

FOREIGN_EXPORT int foreign_post_wait(foreign_token t, const void *msg, size_t len, int64_t timeout_ns) {
	struct foreign_iovec iov = {msg, len};
	return foreign_postv_wait(t, &iov, msg == NULL && len == 0 ? 0 : 1, timeout_ns);
}

FOREIGN_EXPORT int foreign_postv_wait(foreign_token t, const struct foreign_iovec *iov, int iovcnt,
                                      int64_t timeout_ns) {
	int64_t deadline = fq_deadline(timeout_ns);
	fq_msg m;
	int rc = fq_msg_init(&m, FQ_MODE_POST, 0, iov, iovcnt);
	return rc != 0 ? rc : fq_post_wait(t, &m, deadline);
}

FQ_FN void fq_space(fq_ctl *c) {
	atomic_fetch_add_explicit(&c->space_seq, 1, memory_order_seq_cst);
	fq_wake32(&c->space_seq);
}
