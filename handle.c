// handle.c: notifier and interrupt triggers (foreign_signal, and
// foreign_post with no payload) and references (foreign_acquire,
// foreign_release). All async-signal-safe but acquire. Protocols: ring.h,
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
	uint64_t tail;
	int rc = check_gen(t, c, &tail);
	if (rc == 0 && atomic_load_explicit(&c->kind, memory_order_relaxed) != (uint32_t)kind)
		rc = FOREIGN_EINVAL;
	if (rc == 0 && (tail & FQ_CLOSED)) {
		atomic_fetch_add_explicit(&c->rejected_closed, 1, memory_order_relaxed);
		rc = FOREIGN_ECLOSED;
	}
	if (rc == 0) {
		// Latest value wins; only the not-pending -> pending transition
		// makes the fd readable and wakes the consumer.
		uint64_t old = atomic_exchange_explicit(&c->sig, FQ_SIG_PENDING | (uint32_t)value,
		                                        memory_order_seq_cst);
		if (!(old & FQ_SIG_PENDING)) {
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

// The refs word is [gen:19][count:45], the generation where the tail word
// has it: the CAS that changes the count also checks the generation, so a
// stale token can never change the count of the queue that reuses its block.
#define REFS_SHIFT FQ_GEN_SHIFT
#define REFS_COUNT ((UINT64_C(1) << REFS_SHIFT) - 1)

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
	*tgen = tail >> FQ_GEN_SHIFT;
	return c;
}

int foreign_acquire(foreign_token t) {
	uint64_t tgen, tail;
	int rc;
	fq_ctl *c = refs_target(t, &tgen, &rc);
	if (c == NULL)
		return rc;
	uint64_t r = atomic_load_explicit(&c->refs, memory_order_acquire);
	do {
		if ((r >> REFS_SHIFT) != tgen || (r & REFS_COUNT) == 0 || (r & REFS_COUNT) == REFS_COUNT)
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
		if ((r >> REFS_SHIFT) != tgen)
			return FOREIGN_ECLOSED;
		if ((r & REFS_COUNT) == 0)
			return FOREIGN_EINVAL; // more releases than references
	} while (!atomic_compare_exchange_weak_explicit(&c->refs, &r, r - 1, memory_order_acq_rel,
	                                                memory_order_acquire));
	if ((r & REFS_COUNT) == 1) {
		// The last reference: close as Close would, but only the part that
		// is async-signal-safe; the consumer wakes the waiters.
		fq_set_closed(c);
		fq_notify(c);
	}
	return 0;
}
