// refs.c: references to a handle: foreign_acquire and foreign_release
// for C users, and the Go side's own. Lock-free; release is
// async-signal-safe. The protocol ("References") is in block.h.
#include "fq.h"

// The refs word is [gen:19][go:1][count:44] (block.h, "References"): the
// generation where the tail word has it, so the CAS that changes a count
// also checks the generation, and a stale token can never change the count
// of the handle that reuses its block; the Go side's reference is a bit of
// its own, so no C release can drop it.
#define REFS_GEN(r) ((r) >> FQ_GEN_SHIFT)

// refs_target finds the block a reference call names and the generation
// its token claims, or sets *rc.
static fq_ctl *refs_target(foreign_token t, uint64_t *tgen, int *rc) {
	if (fq_forked()) {
		*rc = FOREIGN_ECLOSED;
		return NULL;
	}
	fq_ctl *c = fq_lookup(t);
	if (c == NULL) {
		*rc = FOREIGN_EINVAL;
		return NULL;
	}
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	*tgen = fq_tail_gen(tail);
	if (*tgen != fq_token_gen(t)) {
		*rc = fq_stale_code(fq_token_gen(t), *tgen);
		return NULL;
	}
	return c;
}

FOREIGN_EXPORT int foreign_acquire(foreign_token t) {
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

// drop takes one reference off the handle t names: the Go side's bit
// (go), or one C count. It returns 0 with *last set when no reference is
// left, 1 if the Go side's was dropped already, or a refusal's code.
static int drop(foreign_token t, int go, fq_ctl **cp, uint64_t *tgen, int *last) {
	int rc;
	fq_ctl *c = *cp = refs_target(t, tgen, &rc);
	if (c == NULL)
		return rc;
	uint64_t r = atomic_load_explicit(&c->refs, memory_order_acquire), next;
	do {
		if (REFS_GEN(r) != *tgen)
			return FOREIGN_ECLOSED;
		if (go && !(r & FQ_REFS_GO))
			return 1;
		if (!go && (r & FQ_REFS_COUNT) == 0) // no C reference to drop: the Go side's is not C's
			return (atomic_load_explicit(&c->tail, memory_order_acquire) & FQ_CLOSED) ? FOREIGN_ECLOSED
			                                                                           : FOREIGN_EINVAL;
		next = go ? r & ~FQ_REFS_GO : r - 1;
	} while (!atomic_compare_exchange_weak_explicit(&c->refs, &r, next, memory_order_acq_rel,
	                                                memory_order_acquire));
	*last = (next & (FQ_REFS_GO | FQ_REFS_COUNT)) == 0;
	return 0;
}

FOREIGN_EXPORT int foreign_release(foreign_token t) {
	fq_ctl *c = NULL;
	uint64_t gen = 0;
	int last = 0, rc = drop(t, 0, &c, &gen, &last);
	if (rc == 0 && last) {
		// As Close, but only the async-signal-safe part; the consumer
		// wakes the waiters.
		if (fq_set_closed(c, gen, NULL) == 0)
			fq_notify(c, gen);
	}
	return rc;
}

FQ_FN int fq_release_go(foreign_token t) {
	fq_ctl *c = NULL;
	uint64_t gen = 0, final;
	int last = 0, rc = drop(t, 1, &c, &gen, &last);
	if (rc == 0 && last)
		fq_close_token(t, &final); // a Go thread may take the whole close path, waiters included
	return rc == 1 ? 0 : rc;
}
