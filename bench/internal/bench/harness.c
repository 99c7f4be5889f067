// harness.c: prober and throughput threads for package bench. See harness.h.

#define _GNU_SOURCE
#include "harness.h"

#include "foreign.h"
#include "block.h"
#include "cconsumer.c" // the C-only floor's consumer

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BH_TSC 1
#endif

uint64_t bh_now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#ifdef BH_TSC
// The fences keep the timed call from being reordered across the reads:
// the first lfence waits for earlier instructions, the second keeps later
// ones from starting before the read.
static inline uint64_t bh_ticks(void) {
	_mm_lfence();
	uint64_t t = __rdtsc();
	_mm_lfence();
	return t;
}
static inline void bh_relax(void) { _mm_pause(); }
#else
static inline uint64_t bh_ticks(void) { return bh_now_ns(); }
static inline void bh_relax(void) {}
#endif

uint64_t bh_now_ticks(void) { return bh_ticks(); }

static double ns_per_tick = 1.0;
static pthread_once_t calib_once = PTHREAD_ONCE_INIT;

#ifdef BH_TSC
// stamp reads the tick counter between two clock reads and returns the
// width of that bracket: a narrow one was not preempted in between.
static uint64_t stamp(uint64_t *ns, uint64_t *ticks) {
	uint64_t a = bh_now_ns();
	*ticks = bh_ticks();
	uint64_t b = bh_now_ns();
	*ns = a + (b - a) / 2;
	return b - a;
}

// best_stamp keeps the narrowest of a few brackets.
static void best_stamp(uint64_t *ns, uint64_t *ticks) {
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 16; i++) {
		uint64_t n, t, w = stamp(&n, &t);
		if (w < best) {
			best = w;
			*ns = n;
			*ticks = t;
		}
	}
}
#endif

// calibrate measures the tick rate against CLOCK_MONOTONIC over 20 ms, long
// enough that a bracket error of a microsecond is 5e-5 of the result.
static void calibrate(void) {
#ifdef BH_TSC
	uint64_t n0, t0, n1, t1;
	best_stamp(&n0, &t0);
	while (bh_now_ns() - n0 < 20000000u)
		bh_relax();
	best_stamp(&n1, &t1);
	if (t1 > t0 && n1 > n0)
		ns_per_tick = (double)(n1 - n0) / (double)(t1 - t0);
#endif
}

double bh_ns_per_tick(void) {
	pthread_once(&calib_once, calibrate);
	return ns_per_tick;
}

// pause_ns spins for about ns nanoseconds without leaving the CPU.
static void pause_ns(uint64_t ns) {
	uint64_t end = bh_ticks() + (uint64_t)((double)ns / bh_ns_per_tick());
	while (bh_ticks() < end)
		bh_relax();
}

// ---- The calls under test ----

typedef int (*bh_call)(uintptr_t target, const bh_msg *m);

// noinline: the floor must be a real call, as the others are.
__attribute__((noinline)) static int call_noop(uintptr_t target, const bh_msg *m) {
	(void)target;
	(void)m;
	return 0;
}

static int call_foreign(uintptr_t target, const bh_msg *m) {
	return foreign_post((foreign_token)target, m, sizeof *m);
}

static int call_export(uintptr_t target, const bh_msg *m) {
	(void)target;
	return bhGoCall(m->seq) == m->seq + 1 ? 0 : BH_EBADREPLY;
}

static int call_export_chan(uintptr_t target, const bh_msg *m) {
	bhGoSend(target, m->seq, m->producer);
	return 0;
}

static bh_call call_for(int kind) {
	switch (kind) {
	case BH_NOOP: return call_noop;
	case BH_FOREIGN: return call_foreign;
	case BH_CRING: return call_foreign;
	case BH_EXPORT: return call_export;
	case BH_EXPORT_CHAN: return call_export_chan;
	case BH_EVENTFD: return bh_call_eventfd;
	case BH_PIPE: return bh_call_pipe;
	case BH_ASYNC: return bh_call_async;
	case BH_CONDVAR: return bh_call_condvar;
	case BH_CALL: return bh_call_foreign_call;
	case BH_CALL_CV: return bh_call_cv;
	case BH_WAKE: return bh_call_wake;
	case BH_WAKE_PIPE: return bh_call_wake_pipe;
	case BH_BYTES: return bh_call_bytes;
	}
	return NULL;
}

// ---- Prober ----

enum { PROBER_IDLE, PROBER_RUN, PROBER_QUIT };

struct bh_prober {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state; // guarded by mu; RUN hands the fields below to the thread
	           // and IDLE hands them back

	bh_call call;
	uintptr_t target;
	uint64_t seq; // the next sequence number; the thread's between bursts
	uint64_t cap;
	uint64_t *samples;

	uint64_t warmup, events, period; // period in ticks
	bh_burst res;
};

// burst runs one paced burst on the prober thread.
static void burst(bh_prober *p) {
	bh_burst r = {0};
	bh_msg m = {0};
	bh_call call = p->call;
	uintptr_t target = p->target;
	uint64_t seq = p->seq;
	uint64_t total = p->warmup + p->events, period = p->period;
	uint64_t next = bh_ticks();
	// Long gaps (the parked-consumer scenarios) are slept through, and only
	// their last 20 µs spun: a real event source is idle between events,
	// and a thread spinning for 200 µs would hold one of the machine's two
	// CPUs and change how the kernel places the thread it wakes.
	uint64_t spin_ticks = (uint64_t)(20000.0 / bh_ns_per_tick());
	for (uint64_t i = 0; i < total; i++) {
		uint64_t now = bh_ticks();
		if (next > now + 2 * spin_ticks) {
			double ns = (double)(next - now - spin_ticks) * bh_ns_per_tick();
			struct timespec d = {.tv_sec = (time_t)(ns / 1e9), .tv_nsec = (long)((uint64_t)ns % 1000000000)};
			nanosleep(&d, NULL);
		}
		while (bh_ticks() < next)
			bh_relax();
		m.seq = seq;
		uint64_t t0 = bh_ticks();
		int rc = call(target, &m);
		uint64_t t1 = bh_ticks();
		int timed = i >= p->warmup;
		if (timed)
			p->samples[i - p->warmup] = t1 - t0;
		if (rc == 0) {
			r.accepted++;
			seq++;
		} else if (rc == FOREIGN_EFULL) {
			r.rejected++;
		} else {
			r.failed++;
			r.last_code = rc;
		}
		// A call that overran its slot moves the schedule rather than
		// being followed by a catch-up burst: the rate stays steady, as
		// a real periodic thread's would.
		next += period;
		if (t1 > next) {
			next = t1;
			r.late += (uint64_t)timed;
		}
	}
	p->seq = seq;
	p->res = r;
}

static void *prober_main(void *arg) {
	bh_prober *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->state == PROBER_IDLE)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->state == PROBER_QUIT)
			break;
		pthread_mutex_unlock(&p->mu);
		burst(p);
		pthread_mutex_lock(&p->mu);
		p->state = PROBER_IDLE;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

bh_prober *bh_prober_new(int kind, uintptr_t target, uint64_t cap, int *err) {
	bh_call call = call_for(kind);
	if (call == NULL || kind == BH_CRING || cap == 0) {
		*err = -EINVAL;
		return NULL;
	}
	bh_ns_per_tick(); // calibrate now, not inside the first burst
	bh_prober *p = calloc(1, sizeof *p);
	if (p == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	p->samples = malloc(cap * sizeof *p->samples);
	if (p->samples == NULL) {
		free(p);
		*err = -ENOMEM;
		return NULL;
	}
	p->call = call;
	p->target = target;
	p->cap = cap;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	int rc = pthread_create(&p->thread, NULL, prober_main, p);
	if (rc != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p->samples);
		free(p);
		*err = -rc;
		return NULL;
	}
	*err = 0;
	return p;
}

const bh_burst *bh_prober_run(bh_prober *p, uint64_t warmup, uint64_t events, double period_ns) {
	if (events > p->cap || period_ns < 0)
		return NULL;
	pthread_mutex_lock(&p->mu);
	p->warmup = warmup;
	p->events = events;
	p->period = (uint64_t)(period_ns / bh_ns_per_tick() + 0.5);
	p->state = PROBER_RUN;
	pthread_cond_broadcast(&p->cv);
	while (p->state != PROBER_IDLE)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	return &p->res;
}

const bh_burst *bh_prober_run_here(bh_prober *p, uint64_t warmup, uint64_t events, double period_ns) {
	if (events > p->cap || period_ns < 0)
		return NULL;
	pthread_mutex_lock(&p->mu); // the prober thread stays idle meanwhile
	p->warmup = warmup;
	p->events = events;
	p->period = (uint64_t)(period_ns / bh_ns_per_tick() + 0.5);
	burst(p);
	pthread_mutex_unlock(&p->mu);
	return &p->res;
}

const uint64_t *bh_prober_samples(const bh_prober *p) { return p->samples; }

void bh_prober_free(bh_prober *p) {
	pthread_mutex_lock(&p->mu);
	p->state = PROBER_QUIT;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->samples);
	free(p);
}

// ---- Throughput ----

typedef struct {
	pthread_t thread;
	bh_tput *t;
	uint32_t id;
	uint64_t start_ns, end_ns, retries, sent;
	int bad_code;
} producer;

struct bh_tput {
	int kind, n;
	bh_call send;
	uintptr_t target;
	uint64_t messages;

	// The start gate, and completion: guarded by mu, signalled on cv.
	pthread_mutex_t mu;
	pthread_cond_t cv; // CLOCK_MONOTONIC, for bh_tput_wait's deadline
	int go, cons_done, failed;

	_Atomic int abort;    // read by producers between retries
	_Atomic int finished; // producers that have returned from their last send

	producer *prod;
	int started; // producer threads created

	// BH_CRING only: a ring the Go side opened and frees.
	fq_ctl *ring;
	pthread_t consumer;
	int cons_started;
	uint64_t received, out_of_order, end_ns;
};

static void *producer_main(void *arg) {
	producer *pr = arg;
	bh_tput *t = pr->t;
	pthread_mutex_lock(&t->mu);
	while (!t->go)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);

	bh_msg m = {.producer = pr->id};
	bh_call send = t->send;
	uintptr_t target = t->target;
	uint64_t retries = 0, i = 0, n = t->messages;
	int bad = 0;
	pr->start_ns = bh_now_ns();
	if (atomic_load_explicit(&t->abort, memory_order_relaxed))
		goto out; // a run that failed to start
	for (; i < n; i++) {
		m.seq = i;
		int rc;
		while ((rc = send(target, &m)) != 0) {
			if (rc != FOREIGN_EFULL) {
				bad = rc;
				goto out;
			}
			retries++;
			if (atomic_load_explicit(&t->abort, memory_order_relaxed))
				goto out;
			// Leave the consumer a moment (and, on a full machine, the
			// CPU) before trying again.
			pause_ns(1000);
			sched_yield();
		}
	}
out:
	pr->end_ns = bh_now_ns();
	atomic_fetch_add(&t->finished, 1);
	pr->retries = retries;
	pr->sent = i;
	pr->bad_code = bad;
	if (bad != 0) {
		pthread_mutex_lock(&t->mu);
		t->failed = 1;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
	}
	return NULL;
}

// The C consumer's idle policy: when the ring runs empty, look again after
// pauses that double from 200 ns to 5 us (so as not to pull the line
// producers write on every few nanoseconds) for 50 us, then park on the
// wake fd. The Go consumer starts from the same window and adapts it (and
// parks on a futex while events are sporadic); the floor keeps the fixed
// policy, which suits the streams it is measured in.
enum { IDLE_SPIN_NS = 50000, IDLE_MIN_PAUSE_NS = 200, IDLE_MAX_PAUSE_NS = 5000 };

static void *consumer_main(void *arg) {
	bh_tput *t = arg;
	uint64_t total = t->messages * (uint64_t)t->n, got = 0, bad = 0;
	uint64_t *next = calloc((size_t)t->n, sizeof *next);
	uint64_t idle_since = 0, pause = IDLE_MIN_PAUSE_NS;
	bh_msg m;
	while (got < total) {
		int r = fq_c_recv(t->ring, &m);
		if (r > 0) {
			if (next != NULL && m.producer < (uint32_t)t->n && m.seq == next[m.producer])
				next[m.producer]++;
			else
				bad++;
			got++;
			idle_since = 0;
			continue;
		}
		if (r < 0)
			break; // closed and drained: the run was aborted
		uint64_t now = bh_now_ns();
		if (idle_since == 0) {
			idle_since = now;
			pause = IDLE_MIN_PAUSE_NS;
		}
		if (now - idle_since < IDLE_SPIN_NS) {
			pause_ns(pause);
			pause = pause * 2 < IDLE_MAX_PAUSE_NS ? pause * 2 : IDLE_MAX_PAUSE_NS;
			continue;
		}
		fq_c_park_on(t->ring, FQ_PARK_PARKED); // the wake fd, as the floor always has
		idle_since = 0;
	}
	uint64_t end = bh_now_ns();
	free(next);
	pthread_mutex_lock(&t->mu);
	t->received = got;
	t->out_of_order = bad;
	t->end_ns = end;
	t->cons_done = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static void tput_free(bh_tput *t) {
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t->prod);
	free(t);
}

bh_tput *bh_tput_new(int kind, uintptr_t target, void *ring, int producers, uint64_t messages, int *err) {
	bh_call send = call_for(kind);
	int ok = kind == BH_FOREIGN || kind == BH_EXPORT_CHAN || kind == BH_CRING ||
	         kind == BH_EVENTFD || kind == BH_PIPE || kind == BH_ASYNC || kind == BH_CONDVAR || kind == BH_BYTES;
	if (!ok || send == NULL || producers <= 0) {
		*err = -EINVAL;
		return NULL;
	}
	bh_ns_per_tick();
	bh_tput *t = calloc(1, sizeof *t);
	if (t == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	t->prod = calloc((size_t)producers, sizeof *t->prod);
	if (t->prod == NULL) {
		free(t);
		*err = -ENOMEM;
		return NULL;
	}
	t->kind = kind;
	t->n = producers;
	t->send = send;
	t->target = target;
	t->messages = messages;
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);

	int rc = 0;
	if (kind == BH_CRING) {
		t->ring = ring;
		rc = -pthread_create(&t->consumer, NULL, consumer_main, t);
		t->cons_started = rc == 0;
	}
	for (int i = 0; rc == 0 && i < producers; i++) {
		producer *pr = &t->prod[i];
		pr->t = t;
		pr->id = (uint32_t)i;
		rc = -pthread_create(&pr->thread, NULL, producer_main, pr);
		if (rc == 0)
			t->started++;
	}
	if (rc != 0) {
		bh_tput_result ignored;
		bh_tput_abort(t);
		bh_tput_start(t); // the started producers must run to be joined
		bh_tput_finish(t, &ignored);
		*err = rc;
		return NULL;
	}
	*err = 0;
	return t;
}

void bh_tput_start(bh_tput *t) {
	pthread_mutex_lock(&t->mu);
	t->go = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

int bh_tput_wait(bh_tput *t, int64_t timeout_ns) {
	if (t->kind != BH_CRING)
		return 0;
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	int64_t ns = dl.tv_nsec + (timeout_ns > 0 ? timeout_ns : 0);
	dl.tv_sec += (time_t)(ns / 1000000000);
	dl.tv_nsec = (long)(ns % 1000000000);
	pthread_mutex_lock(&t->mu);
	int rc = 0;
	while (!t->cons_done && !t->failed && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&t->cv, &t->mu, &dl);
	int done = t->cons_done;
	pthread_mutex_unlock(&t->mu);
	return done;
}

int bh_tput_failed(bh_tput *t) {
	pthread_mutex_lock(&t->mu);
	int f = t->failed;
	pthread_mutex_unlock(&t->mu);
	return f;
}

void bh_tput_abort(bh_tput *t) {
	atomic_store_explicit(&t->abort, 1, memory_order_relaxed);
	if (t->ring != NULL) {
		// A parked consumer sees the close when it wakes, drains, and stops.
		fq_c_close(t->ring);
	}
}

void bh_tput_finish(bh_tput *t, bh_tput_result *out) {
	memset(out, 0, sizeof *out);
	for (int i = 0; i < t->started; i++) {
		producer *pr = &t->prod[i];
		pthread_join(pr->thread, NULL);
		if (i == 0 || pr->start_ns < out->start_ns)
			out->start_ns = pr->start_ns;
		if (pr->end_ns > out->prod_end_ns)
			out->prod_end_ns = pr->end_ns;
		out->retries += pr->retries;
		out->sent += pr->sent;
		if (pr->bad_code != 0)
			out->bad_code = pr->bad_code;
	}
	if (t->cons_started) {
		// The producers are done: closing lets a consumer that is still
		// short (a failed run) drain what was sent and stop.
		fq_c_close(t->ring);
		pthread_join(t->consumer, NULL);
		out->end_ns = t->end_ns;
		out->received = t->received;
		out->out_of_order = t->out_of_order;
		out->wakeups = atomic_load_explicit(&t->ring->wakeups, memory_order_relaxed);
	}
	tput_free(t);
}

int bh_tput_producers_done(bh_tput *t) { return atomic_load(&t->finished) == t->started; }
