// handle.c: notifier and interrupt triggers (foreign_signal, and
// foreign_post with no payload) and references (foreign_acquire,
// foreign_release, and the Go side's own). All async-signal-safe but
// acquire. Protocols: ring.h,
// "Signals" and "References".
#define _GNU_SOURCE
#include "foreign.h"
#include "ring.h"

#include <errno.h>
#include <unistd.h>

// check_gen validates a token against its block's current generation.
static int check_gen(foreign_token t, fq_ctl *c, uint64_t *tail) {
	*tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	uint64_t gen = fq_tail_gen(*tail);
	return gen == fq_token_gen(t) ? 0 : fq_stale_code(fq_token_gen(t), gen);
}

int fq_trigger(foreign_token t, int kind, int value) {
	fq_ctl *c = fq_lookup(t);
	if (c == NULL)
		return FOREIGN_EINVAL;
	// Counted in flight before the closed check, so that teardown, which
	// waits for zero after the close, cannot close sig_fd under our write.
	atomic_fetch_add_explicit(&c->sig_inflight, 1, memory_order_seq_cst);
	uint64_t tail, tgen = fq_token_gen(t);
	int rc = check_gen(t, c, &tail);
	if (rc == 0 && atomic_load_explicit(&c->kind, memory_order_relaxed) != (uint32_t)kind)
		rc = FOREIGN_EINVAL;
	uint64_t old = 0;
	if (rc == 0) {
		// Latest value wins. The CAS accepts only a word of our generation
		// that is not closed: the closed bit in sig orders the trigger
		// against every close (ring.h, "Signals").
		uint64_t want = tgen << FQ_GEN_SHIFT | FQ_SIG_PENDING | (uint32_t)value;
		old = atomic_load_explicit(&c->sig, memory_order_acquire);
		for (;;) {
			if ((old >> FQ_GEN_SHIFT) != tgen) {
				rc = fq_stale_code(tgen, old >> FQ_GEN_SHIFT);
				break;
			}
			if (old & FQ_SIG_CLOSED) {
				atomic_fetch_add_explicit(&c->rejected_closed, 1, memory_order_relaxed);
				rc = FOREIGN_ECLOSED;
				break;
			}
			if (atomic_compare_exchange_weak_explicit(&c->sig, &old, want, memory_order_seq_cst,
			                                          memory_order_acquire))
				break;
		}
	}
	// Only the not-pending -> pending transition makes the fd readable and
	// wakes the consumer.
	if (rc == 0 && !(old & FQ_SIG_PENDING)) {
		int64_t fd = atomic_load_explicit(&c->sig_wfd, memory_order_relaxed);
		if (fd >= 0) {
			int saved = errno;
			uint64_t one = 1;
			if (fd == atomic_load_explicit(&c->sig_fd, memory_order_relaxed))
				(void)!write((int)fd, &one, sizeof one);
			else
				(void)!write((int)fd, &one, 1);
			errno = saved;
		}
		fq_notify(c);
	}
	atomic_fetch_sub_explicit(&c->sig_inflight, 1, memory_order_release);
	return rc;
}

int foreign_signal(foreign_token t, int value) { return fq_trigger(t, FQ_KIND_INTERRUPT, value); }

int fq_drain_sig_fd(fq_ctl *c) {
	int64_t fd = atomic_load_explicit(&c->sig_fd, memory_order_relaxed);
	if (fd < 0)
		return 0;
	char buf[64];
	while (read((int)fd, buf, sizeof buf) > 0) {
	}
	return 0;
}

// The refs word is [gen:19][go:1][count:44] (ring.h, "References"): the
// generation where the tail word has it, so the CAS that changes a count
// also checks the generation, and a stale token can never change the count
// of the handle that reuses its block; the Go side's reference is a bit of
// its own, so no C release can drop it.
#define REFS_GEN(r) ((r) >> FQ_GEN_SHIFT)

// refs_target finds the block a reference call names and the generation
// its token claims, or sets *rc.
static fq_ctl *refs_target(foreign_token t, uint64_t *tgen, int *rc) {
	fq_ctl *c = fq_lookup(t);
	if (c == NULL) {
		*rc = FOREIGN_EINVAL;
		return NULL;
	}
	uint64_t tail;
	if ((*rc = check_gen(t, c, &tail)) != 0)
		return NULL;
	*tgen = fq_tail_gen(tail);
	return c;
}

// last_ref closes the handle whose last reference was just dropped: as
// Close, but only the async-signal-safe part; the consumer wakes waiters.
static void last_ref(fq_ctl *c, uint64_t gen) {
	if (fq_set_closed(c, gen, NULL) == 0)
		fq_notify(c);
}

int foreign_acquire(foreign_token t) {
	uint64_t tgen, tail;
	int rc;
	fq_ctl *c = refs_target(t, &tgen, &rc);
	if (c == NULL)
		return rc;
	uint64_t r = atomic_load_explicit(&c->refs, memory_order_acquire);
	do {
		if (REFS_GEN(r) != tgen || (r & (FQ_REFS_GO | FQ_REFS_COUNT)) == 0 ||
		    (r & FQ_REFS_COUNT) == FQ_REFS_COUNT)
			return FOREIGN_ECLOSED; // stale, or released for good: no resurrection
		tail = atomic_load_explicit(&c->tail, memory_order_acquire);
		if (tail & FQ_CLOSED)
			return FOREIGN_ECLOSED;
	} while (!atomic_compare_exchange_weak_explicit(&c->refs, &r, r + 1, memory_order_acq_rel,
	                                                memory_order_acquire));
	return 0;
}

int foreign_release(foreign_token t) {
	uint64_t tgen;
	int rc;
	fq_ctl *c = refs_target(t, &tgen, &rc);
	if (c == NULL)
		return rc;
	uint64_t r = atomic_load_explicit(&c->refs, memory_order_acquire);
	do {
		if (REFS_GEN(r) != tgen)
			return FOREIGN_ECLOSED;
		if ((r & FQ_REFS_COUNT) == 0)
			return FOREIGN_EINVAL; // no C reference to drop: the Go side's is not C's
	} while (!atomic_compare_exchange_weak_explicit(&c->refs, &r, r - 1, memory_order_acq_rel,
	                                                memory_order_acquire));
	if (((r - 1) & (FQ_REFS_GO | FQ_REFS_COUNT)) == 0)
		last_ref(c, tgen);
	return 0;
}

int fq_release_go(foreign_token t) {
	uint64_t tgen;
	int rc;
	fq_ctl *c = refs_target(t, &tgen, &rc);
	if (c == NULL)
		return rc;
	uint64_t r = atomic_load_explicit(&c->refs, memory_order_acquire);
	do {
		if (REFS_GEN(r) != tgen)
			return FOREIGN_ECLOSED;
		if (!(r & FQ_REFS_GO))
			return 0; // dropped already
	} while (!atomic_compare_exchange_weak_explicit(&c->refs, &r, r & ~FQ_REFS_GO, memory_order_acq_rel,
	                                                memory_order_acquire));
	if ((r & FQ_REFS_COUNT) == 0) {
		// A Go thread may take the whole close path, waiters included.
		uint64_t final;
		fq_close_token(t, &final);
	}
	return 0;
}
