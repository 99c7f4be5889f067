/*
 * timing.h: times a library thread's hand-off to Go (a foreign_post, a
 * foreign_call, or a call to an //export'ed function) for the examples'
 * side-by-side figures. It is measurement, not binding: a binding copied
 * from an example leaves the timing_* lines out.
 *
 * A duration alone cannot tell a thread that blocked from one the kernel
 * preempted for another (on two cores, a wake-up often does that). So,
 * when switches is set, timing_start and timing_stop also read the thread's
 * context-switch counts (getrusage(RUSAGE_THREAD), outside the timed
 * interval) and count the hand-offs during which it slept (a voluntary
 * switch: it waited for something) or was preempted (an involuntary one).
 *
 * Header-only (static inline), so each example's C file has its own copy and
 * no C symbol is shared between Go packages. Without switches, timing_start
 * and timing_stop are async-signal-safe (clock_gettime and an atomic add; no
 * lock, no malloc), so a signal handler may use them. The file that includes
 * this defines _GNU_SOURCE first (for RUSAGE_THREAD).
 */
#ifndef EXAMPLES_TIMING_H
#define EXAMPLES_TIMING_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
	uint64_t *ns;  /* durations in nanoseconds; the first cap are kept */
	uint64_t cap;
	uint64_t n;    /* samples taken (atomic; may pass cap) */
	int switches;  /* also count context switches (not in signal handlers) */
	uint64_t slept;     /* hand-offs with a voluntary switch (atomic) */
	uint64_t preempted; /* hand-offs with an involuntary one (atomic) */
} timing;

/* A hand-off being timed. */
typedef struct {
	uint64_t t0;
	long nvcsw, nivcsw;
} timing_mark;

/* CLOCK_MONOTONIC, the clock Go's monotonic time reads too. */
static inline uint64_t timing_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* timing_init makes room for cap samples (0: keep none). -1 if out of memory. */
static inline int timing_init(timing *t, uint64_t cap, int switches) {
	t->n = 0;
	t->switches = switches;
	t->slept = 0;
	t->preempted = 0;
	t->cap = 0;
	t->ns = NULL;
	if (cap == 0)
		return 0;
	t->ns = calloc(cap, sizeof *t->ns);
	if (t->ns == NULL)
		return -1;
	t->cap = cap;
	return 0;
}

static inline void timing_free(timing *t) {
	free(t->ns);
	t->ns = NULL;
	t->cap = 0;
}

/* timing_start begins timing a hand-off. */
static inline void timing_start(const timing *t, timing_mark *m) {
	m->nvcsw = m->nivcsw = 0;
	if (t->switches) {
		struct rusage ru;
		getrusage(RUSAGE_THREAD, &ru);
		m->nvcsw = ru.ru_nvcsw;
		m->nivcsw = ru.ru_nivcsw;
	}
	m->t0 = timing_now();
}

/* timing_stop records the hand-off begun with m. Several threads may record
 * at once: each sample gets a slot of its own. */
static inline void timing_stop(timing *t, const timing_mark *m) {
	uint64_t d = timing_now() - m->t0;
	uint64_t i = __atomic_fetch_add(&t->n, 1, __ATOMIC_RELAXED);
	if (i < t->cap)
		t->ns[i] = d;
	if (t->switches) {
		struct rusage ru;
		getrusage(RUSAGE_THREAD, &ru);
		if (ru.ru_nvcsw != m->nvcsw)
			__atomic_fetch_add(&t->slept, 1, __ATOMIC_RELAXED);
		if (ru.ru_nivcsw != m->nivcsw)
			__atomic_fetch_add(&t->preempted, 1, __ATOMIC_RELAXED);
	}
}

/* timing_kept returns how many samples are in t->ns. Read it only after the
 * threads that add have finished (the caller knows how: a joined thread, a
 * drained subscription, a counter), which is also what makes their samples
 * visible. */
static inline uint64_t timing_kept(const timing *t) {
	uint64_t n = __atomic_load_n(&t->n, __ATOMIC_ACQUIRE);
	return n < t->cap ? n : t->cap;
}

#endif
