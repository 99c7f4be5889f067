// wake.c: waking a parked consumer, or putting a handle on its Loop's
// ready queue. The protocol ("Park and wake", "Loops") is in block.h; the
// consumer's side, parking, is park.go beside this file.
#include "fq.h"

// fq_wake is the producer's side of park and wake: the one producer that
// moves park from a parked state to WAKING wakes the consumer, once per
// burst: through the wake fd, or the futex on the park word.
FQ_FN int fq_wake(fq_ctl *c) {
	uint32_t was = atomic_load_explicit(&c->park, memory_order_seq_cst);
	if ((was != FQ_PARK_PARKED && was != FQ_PARK_FUTEX) ||
	    !atomic_compare_exchange_strong_explicit(&c->park, &was, FQ_PARK_WAKING, memory_order_seq_cst,
	                                             memory_order_seq_cst))
		return 0;
	atomic_fetch_add_explicit(&c->wakeups, 1, memory_order_relaxed);
	if (was == FQ_PARK_FUTEX) {
		// RUNNING before the wake, so the woken consumer does not find WAKING.
		atomic_store_explicit(&c->park, FQ_PARK_RUNNING, memory_order_seq_cst);
		fq_park_wake(&c->park);
		return 1;
	}
	// While park is WAKING, teardown cannot close the fd (it waits for us).
	fq_write_wake(atomic_load_explicit(&c->wake_fd, memory_order_relaxed),
	              atomic_load_explicit(&c->wake_kind, memory_order_relaxed) == FQ_WAKE_EVENTFD);
	atomic_store_explicit(&c->park, FQ_PARK_RUNNING, memory_order_release);
	return 1;
}

// fq_notify runs after a producer's seq_cst claim (or a trigger's seq_cst
// exchange): it wakes the handle's parked consumer, or puts the handle on
// its Loop's ready queue if it is not there yet (block.h, "Loops").
FQ_FN void fq_notify(fq_ctl *c, uint64_t gen) {
	uint64_t loop = atomic_load_explicit(&c->loop_token, memory_order_relaxed);
	if (loop == 0) {
		uint32_t park = atomic_load_explicit(&c->park, memory_order_seq_cst);
		if (park == FQ_PARK_PARKED || park == FQ_PARK_FUTEX)
			fq_wake(c); // at worst a spurious wake-up of a later handle
		return;
	}
	uint32_t idle = (uint32_t)(gen << 1);
	if (atomic_load_explicit(&c->scheduled, memory_order_seq_cst) == idle &&
	    atomic_compare_exchange_strong_explicit(&c->scheduled, &idle, idle | 1, memory_order_seq_cst,
	                                            memory_order_relaxed)) {
		uint64_t id = atomic_load_explicit(&c->handle_id, memory_order_relaxed);
		// Cannot be full: the ready queue holds every handle at most once.
		// It fails only if the Loop is gone, and then nobody is listening.
		(void)fq_post1((foreign_token)loop, FQ_MODE_POST, 0, &id, sizeof id);
	}
}

FQ_FN int fq_kick(foreign_token t) {
	fq_ctl *c = fq_lookup(t);
	if (c == NULL)
		return FOREIGN_EINVAL;
	uint64_t gen = fq_tail_gen(atomic_load_explicit(&c->tail, memory_order_acquire));
	if (gen != fq_token_gen(t))
		return fq_stale_code(fq_token_gen(t), gen);
	fq_notify(c, gen);
	return 0;
}

// fq_sleep_parked is the consumer's sleep on the futex (park.go): while
// its park word is FQ_PARK_FUTEX, for at most timeout_ns (-1: no limit),
// or until a spurious return; -errno if the kernel refuses the futex.
FQ_FN int fq_sleep_parked(fq_ctl *c, int64_t timeout_ns) { return fq_park_sleep(&c->park, timeout_ns); }
