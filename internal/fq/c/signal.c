// signal.c: notifier and interrupt triggers: foreign_signal, and
// foreign_post with no payload to a notifier. Async-signal-safe. The
// protocol ("Signals") is in block.h; the Go side (take, pending) is
// signal.go beside this file.
#include "fq.h"

#include <unistd.h>

// check_gen validates a token against its block's current generation.
static int check_gen(foreign_token t, fq_ctl *c, uint64_t *tail) {
	*tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	uint64_t gen = fq_tail_gen(*tail);
	return gen == fq_token_gen(t) ? 0 : fq_stale_code(fq_token_gen(t), gen);
}

FQ_FN int fq_trigger(foreign_token t, int kind, int value) {
	if (fq_forked())
		return FOREIGN_ECLOSED;
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
		// against every close (block.h, "Signals").
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
		if (fd >= 0)
			fq_write_wake(fd, fd == atomic_load_explicit(&c->sig_fd, memory_order_relaxed));
		fq_notify(c, tgen);
	}
	atomic_fetch_sub_explicit(&c->sig_inflight, 1, memory_order_release);
	return rc;
}

FOREIGN_EXPORT int foreign_signal(foreign_token t, int value) { return fq_trigger(t, FQ_KIND_INTERRUPT, value); }

FQ_FN int fq_drain_sig_fd(fq_ctl *c) {
	int64_t fd = atomic_load_explicit(&c->sig_fd, memory_order_relaxed);
	if (fd < 0)
		return 0;
	char buf[64];
	while (read((int)fd, buf, sizeof buf) > 0) {
	}
	return 0;
}
