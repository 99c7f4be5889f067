// cthreads.c: the test harness's C threads. They use only the public ABI
// (foreign.h), as a C library binding would.
#define _GNU_SOURCE
#include "cthreads.h"
#include "foreign.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	uintptr_t token;
	uint32_t id;
	uint64_t count;
	int until_closed;
	uint64_t accepted, full;
	int bad;
	pthread_t th;
} ct_thread;

struct ct_producers {
	int n;
	ct_thread t[];
};

static void *producer_main(void *arg) {
	ct_thread *t = arg;
	ct_msg m = {.producer = t->id};
	for (uint64_t seq = 0; t->until_closed || seq < t->count;) {
		m.seq = seq;
		int rc = foreign_post(t->token, &m, sizeof m);
		if (rc == 0) {
			seq++;
			t->accepted++;
		} else if (rc == FOREIGN_EFULL) {
			t->full++;
			sched_yield();
		} else if (rc == FOREIGN_ECLOSED && t->until_closed) {
			break;
		} else {
			t->bad = rc;
			break;
		}
	}
	return NULL;
}

ct_producers *ct_start(uintptr_t token, int n, uint32_t first_id, uint64_t count, int until_closed) {
	ct_producers *p = calloc(1, sizeof *p + (size_t)n * sizeof(ct_thread));
	if (p == NULL)
		return NULL;
	p->n = n;
	for (int i = 0; i < n; i++) {
		ct_thread *t = &p->t[i];
		t->token = token;
		t->id = first_id + (uint32_t)i;
		t->count = count;
		t->until_closed = until_closed;
		if (pthread_create(&t->th, NULL, producer_main, t) != 0)
			abort();
	}
	return p;
}

int ct_join(ct_producers *p, uint64_t *accepted, uint64_t *full_retries, int *bad_code) {
	int ok = 0;
	*full_retries = 0;
	*bad_code = 0;
	for (int i = 0; i < p->n; i++) {
		pthread_join(p->t[i].th, NULL);
		accepted[i] = p->t[i].accepted;
		*full_retries += p->t[i].full;
		if (p->t[i].bad != 0) {
			*bad_code = p->t[i].bad;
			ok = -1;
		}
	}
	free(p);
	return ok;
}

typedef struct {
	uintptr_t token;
	ct_msg m;
	int rc;
} fresh_arg;

static void *fresh_main(void *arg) {
	fresh_arg *a = arg;
	do {
		a->rc = foreign_post(a->token, &a->m, sizeof a->m);
		if (a->rc == FOREIGN_EFULL)
			sched_yield();
	} while (a->rc == FOREIGN_EFULL);
	return NULL;
}

int64_t ct_fresh_threads(uintptr_t token, uint32_t producer, int n) {
	int64_t accepted = 0;
	for (int i = 0; i < n; i++) {
		fresh_arg a = {.token = token, .m = {.producer = producer, .seq = (uint64_t)i}};
		pthread_t th;
		if (pthread_create(&th, NULL, fresh_main, &a) != 0)
			return -1;
		pthread_join(th, NULL);
		if (a.rc != 0)
			return -1;
		accepted++;
	}
	return accepted;
}

// Signal storm state. Handlers read it; it is set before the timers start.
static uintptr_t storm_token;
static uint32_t storm_producer;
static _Atomic uint64_t tsig_seq, psig_next, psig_seq, tsig_runs, psig_runs, sig_full;
static _Atomic int storm_bad;
static pid_t storm_tid;

// Runs in signal context: only async-signal-safe work. The thread-directed
// handler runs on one thread and never nests (SIGUSR1 is masked while it
// runs), so its accepted messages carry 0, 1, 2, ... in order. The
// process-wide handler can run on several threads at once, so it takes
// unique numbers atomically; a refused post leaves a gap.
static void storm_handler(int sig, siginfo_t *si, void *uc) {
	(void)sig;
	(void)uc;
	int directed = si->si_value.sival_int == 1;
	ct_msg m = {.producer = storm_producer + (directed ? 1 : 2)};
	if (directed) {
		atomic_fetch_add(&tsig_runs, 1);
		m.seq = atomic_load(&tsig_seq);
	} else {
		atomic_fetch_add(&psig_runs, 1);
		m.seq = atomic_fetch_add(&psig_next, 1);
	}
	int rc = foreign_post(storm_token, &m, sizeof m);
	if (rc == 0)
		atomic_fetch_add(directed ? &tsig_seq : &psig_seq, 1);
	else if (rc == FOREIGN_EFULL)
		atomic_fetch_add(&sig_full, 1);
	else
		atomic_store(&storm_bad, rc);
}

typedef struct {
	int64_t duration_ns;
	uint64_t accepted;
	int bad;
	_Atomic int ready;
} loop_arg;

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *storm_loop(void *arg) {
	loop_arg *a = arg;
	storm_tid = (pid_t)syscall(SYS_gettid);
	atomic_store(&a->ready, 1);
	while (atomic_load(&a->ready) != 2)
		sched_yield();
	ct_msg m = {.producer = storm_producer};
	int64_t end = now_ns() + a->duration_ns;
	while (now_ns() < end) {
		m.seq = a->accepted;
		int rc = foreign_post(storm_token, &m, sizeof m);
		if (rc == 0)
			a->accepted++;
		else if (rc != FOREIGN_EFULL) {
			a->bad = rc;
			break;
		}
	}
	return NULL;
}

static int make_timer(timer_t *tm, int directed, int64_t interval_ns) {
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_signo = SIGUSR1;
	sev.sigev_value.sival_int = directed;
	if (directed) {
		sev.sigev_notify = SIGEV_THREAD_ID;
		sev._sigev_un._tid = storm_tid;
	} else {
		sev.sigev_notify = SIGEV_SIGNAL;
	}
	if (timer_create(CLOCK_MONOTONIC, &sev, tm) != 0)
		return -1;
	struct itimerspec its = {
		.it_interval = {.tv_sec = interval_ns / 1000000000, .tv_nsec = interval_ns % 1000000000},
		.it_value = {.tv_sec = 0, .tv_nsec = 1000},
	};
	return timer_settime(*tm, 0, &its, NULL);
}

int ct_signal_storm(uintptr_t token, uint32_t producer, int64_t interval_ns, int64_t duration_ns,
                    ct_storm_result *out) {
	memset(out, 0, sizeof *out);
	storm_token = token;
	storm_producer = producer;
	atomic_store(&tsig_seq, 0);
	atomic_store(&psig_seq, 0);
	atomic_store(&psig_next, 0);
	atomic_store(&tsig_runs, 0);
	atomic_store(&psig_runs, 0);
	atomic_store(&sig_full, 0);
	atomic_store(&storm_bad, 0);

	// SA_ONSTACK: the signal may land on a Go thread, which must run the
	// handler on its alternate stack (a Go runtime requirement).
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = storm_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, &old) != 0)
		return -1;

	loop_arg a = {.duration_ns = duration_ns};
	pthread_t th;
	if (pthread_create(&th, NULL, storm_loop, &a) != 0)
		return -1;
	while (atomic_load(&a.ready) != 1)
		sched_yield();
	timer_t t1, t2;
	int err = make_timer(&t1, 1, interval_ns) | make_timer(&t2, 0, interval_ns);
	atomic_store(&a.ready, 2);
	pthread_join(th, NULL);
	timer_delete(t1);
	timer_delete(t2);
	// A signal may still be pending or running on some thread; give it time
	// to finish before the old handler comes back.
	struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
	nanosleep(&pause, NULL);
	sigaction(SIGUSR1, &old, NULL);

	out->loop_accepted = a.accepted;
	out->tsig_accepted = atomic_load(&tsig_seq);
	out->psig_accepted = atomic_load(&psig_seq);
	out->tsig_runs = atomic_load(&tsig_runs);
	out->psig_runs = atomic_load(&psig_runs);
	out->sig_full = atomic_load(&sig_full);
	out->bad_code = a.bad != 0 ? a.bad : atomic_load(&storm_bad);
	return err;
}

typedef struct {
	uintptr_t token;
	uint32_t id;
	uint64_t count;
	int64_t timeout_ns;
	int until_closed;
	ct_call_result r;
	pthread_t th;
} ct_caller;

struct ct_callers {
	int n;
	ct_caller c[];
};

static void *caller_main(void *arg) {
	ct_caller *c = arg;
	for (uint64_t seq = 0; c->until_closed || seq < c->count; seq++) {
		ct_msg m = {.producer = c->id, .seq = seq};
		uint64_t ret = 0;
		int rc = foreign_call(c->token, &m, sizeof m, &ret, sizeof ret, c->timeout_ns);
		switch (rc) {
		case 0:
			if (ret == seq * 3 + c->id)
				c->r.ok++;
			else
				c->r.wrong++;
			break;
		case FOREIGN_ETIMEDOUT: c->r.timedout++; break;
		case FOREIGN_ECLOSED: c->r.closed++; return NULL;
		case FOREIGN_EPANIC: c->r.panicked++; break;
		default:
			c->r.other++;
			c->r.other_code = rc;
			return NULL;
		}
	}
	return NULL;
}

ct_callers *ct_callers_start(uintptr_t token, int n, uint32_t first_id, uint64_t count, int64_t timeout_ns,
                             int until_closed) {
	ct_callers *p = calloc(1, sizeof *p + (size_t)n * sizeof(ct_caller));
	if (p == NULL)
		abort();
	p->n = n;
	for (int i = 0; i < n; i++) {
		ct_caller *c = &p->c[i];
		c->token = token;
		c->id = first_id + (uint32_t)i;
		c->count = count;
		c->timeout_ns = timeout_ns;
		c->until_closed = until_closed;
		if (pthread_create(&c->th, NULL, caller_main, c) != 0)
			abort();
	}
	return p;
}

void ct_callers_join(ct_callers *p, ct_call_result *out) {
	memset(out, 0, sizeof *out);
	for (int i = 0; i < p->n; i++) {
		pthread_join(p->c[i].th, NULL);
		ct_call_result *r = &p->c[i].r;
		out->ok += r->ok;
		out->timedout += r->timedout;
		out->closed += r->closed;
		out->panicked += r->panicked;
		out->wrong += r->wrong;
		out->other += r->other;
		if (r->other_code != 0)
			out->other_code = r->other_code;
	}
	free(p);
}

int ct_call(uintptr_t token, const void *arg, size_t arglen, void *ret, size_t retlen, int64_t timeout_ns) {
	return foreign_call(token, arg, arglen, ret, retlen, timeout_ns);
}

typedef struct {
	uintptr_t token;
	uint32_t id;
	uint64_t count, accepted;
	int64_t timeout_ns;
	int code;
	pthread_t th;
} ct_waiter;

struct ct_waiters {
	int n;
	ct_waiter w[];
};

static void *waiter_main(void *arg) {
	ct_waiter *w = arg;
	ct_msg m = {.producer = w->id};
	for (uint64_t seq = 0; seq < w->count; seq++) {
		m.seq = seq;
		int rc = foreign_post_wait(w->token, &m, sizeof m, w->timeout_ns);
		if (rc != 0) {
			w->code = rc;
			return NULL;
		}
		w->accepted++;
	}
	return NULL;
}

ct_waiters *ct_waiters_start(uintptr_t token, int n, uint32_t first_id, uint64_t count, int64_t timeout_ns) {
	ct_waiters *p = calloc(1, sizeof *p + (size_t)n * sizeof(ct_waiter));
	if (p == NULL)
		abort();
	p->n = n;
	for (int i = 0; i < n; i++) {
		ct_waiter *w = &p->w[i];
		w->token = token;
		w->id = first_id + (uint32_t)i;
		w->count = count;
		w->timeout_ns = timeout_ns;
		if (pthread_create(&w->th, NULL, waiter_main, w) != 0)
			abort();
	}
	return p;
}

void ct_waiters_join(ct_waiters *p, uint64_t *accepted, int *codes) {
	for (int i = 0; i < p->n; i++) {
		pthread_join(p->w[i].th, NULL);
		accepted[i] = p->w[i].accepted;
		codes[i] = p->w[i].code;
	}
	free(p);
}

typedef struct {
	uintptr_t token;
	int id, interrupt;
	uint64_t count;
	ct_trig_result r;
	pthread_t th;
} ct_trigger;

static int trigger_once(uintptr_t token, int interrupt, int value) {
	return interrupt ? foreign_signal(token, value) : foreign_post(token, NULL, 0);
}

static void count_trig(ct_trig_result *r, int rc) {
	if (rc == 0)
		r->ok++;
	else if (rc == FOREIGN_ECLOSED)
		r->closed++;
	else {
		r->other++;
		r->other_code = rc;
	}
}

static void *trigger_main(void *arg) {
	ct_trigger *t = arg;
	for (uint64_t i = 0; i < t->count; i++)
		count_trig(&t->r, trigger_once(t->token, t->interrupt, t->id * 1000000 + (int)i));
	return NULL;
}

void ct_trigger_threads(uintptr_t token, int n, uint64_t count, int interrupt, ct_trig_result *out) {
	ct_trigger *ts = calloc((size_t)n, sizeof *ts);
	if (ts == NULL)
		abort();
	for (int i = 0; i < n; i++) {
		ts[i] = (ct_trigger){.token = token, .id = i + 1, .interrupt = interrupt, .count = count};
		if (pthread_create(&ts[i].th, NULL, trigger_main, &ts[i]) != 0)
			abort();
	}
	memset(out, 0, sizeof *out);
	for (int i = 0; i < n; i++) {
		pthread_join(ts[i].th, NULL);
		out->ok += ts[i].r.ok;
		out->closed += ts[i].r.closed;
		out->other += ts[i].r.other;
		if (ts[i].r.other_code)
			out->other_code = ts[i].r.other_code;
	}
	free(ts);
}

static uintptr_t tstorm_token;
static int tstorm_interrupt;
static _Atomic uint64_t tstorm_ok, tstorm_closed, tstorm_other;
static _Atomic int64_t tstorm_next, tstorm_last;

// Signal context: foreign_signal / foreign_post only.
static void tstorm_handler(int sig) {
	(void)sig;
	int64_t v = atomic_fetch_add(&tstorm_next, 1) + 1;
	int rc = trigger_once(tstorm_token, tstorm_interrupt, (int)v);
	if (rc == 0) {
		int64_t last = atomic_load(&tstorm_last);
		while (v > last && !atomic_compare_exchange_weak(&tstorm_last, &last, v)) {
		}
		atomic_fetch_add(&tstorm_ok, 1);
	} else if (rc == FOREIGN_ECLOSED) {
		atomic_fetch_add(&tstorm_closed, 1);
	} else {
		atomic_fetch_add(&tstorm_other, 1);
	}
}

int ct_trigger_storm(uintptr_t token, int interrupt, int64_t interval_ns, int64_t duration_ns,
                     ct_trig_result *out, int64_t *last) {
	tstorm_token = token;
	tstorm_interrupt = interrupt;
	atomic_store(&tstorm_ok, 0);
	atomic_store(&tstorm_closed, 0);
	atomic_store(&tstorm_other, 0);
	atomic_store(&tstorm_next, 0);
	atomic_store(&tstorm_last, 0);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tstorm_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESTART; // SA_ONSTACK: may land on a Go thread
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, &old) != 0)
		return -1;
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	timer_t tm;
	if (timer_create(CLOCK_MONOTONIC, &sev, &tm) != 0)
		return -1;
	struct itimerspec its = {
		.it_interval = {.tv_sec = interval_ns / 1000000000, .tv_nsec = interval_ns % 1000000000},
		.it_value = {.tv_nsec = 1000},
	};
	timer_settime(tm, 0, &its, NULL);
	struct timespec d = {.tv_sec = duration_ns / 1000000000, .tv_nsec = duration_ns % 1000000000};
	while (nanosleep(&d, &d) != 0 && errno == EINTR) {
	}
	timer_delete(tm);
	struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
	nanosleep(&pause, NULL);
	sigaction(SIGUSR1, &old, NULL);
	out->ok = atomic_load(&tstorm_ok);
	out->closed = atomic_load(&tstorm_closed);
	out->other = atomic_load(&tstorm_other);
	out->other_code = 0;
	*last = atomic_load(&tstorm_last);
	return 0;
}

typedef struct {
	uintptr_t token;
	uint32_t id;
	uint64_t count, accepted;
	int code;
	pthread_t th;
} ct_refs;

static void *refs_main(void *arg) {
	ct_refs *r = arg;
	int rc = foreign_acquire(r->token);
	if (rc != 0) {
		r->code = rc;
		return NULL;
	}
	ct_msg m = {.producer = r->id};
	for (uint64_t seq = 0; seq < r->count;) {
		m.seq = seq;
		rc = foreign_post(r->token, &m, sizeof m);
		if (rc == 0) {
			seq++;
			r->accepted++;
		} else if (rc == FOREIGN_EFULL) {
			sched_yield();
		} else {
			r->code = rc;
			break;
		}
	}
	rc = foreign_release(r->token);
	if (rc != 0 && r->code == 0)
		r->code = rc;
	return NULL;
}

void ct_refs_race(uintptr_t token, int n, uint32_t first_id, uint64_t count, uint64_t *accepted, int *codes) {
	ct_refs *rs = calloc((size_t)n, sizeof *rs);
	if (rs == NULL)
		abort();
	for (int i = 0; i < n; i++) {
		rs[i] = (ct_refs){.token = token, .id = first_id + (uint32_t)i, .count = count};
		if (pthread_create(&rs[i].th, NULL, refs_main, &rs[i]) != 0)
			abort();
	}
	for (int i = 0; i < n; i++) {
		pthread_join(rs[i].th, NULL);
		accepted[i] = rs[i].accepted;
		codes[i] = rs[i].code;
	}
	free(rs);
}

int ct_acquire(uintptr_t token) { return foreign_acquire(token); }
int ct_release(uintptr_t token) { return foreign_release(token); }
int ct_signal(uintptr_t token, int value) { return foreign_signal(token, value); }

extern void ctExportNoop(int v);

typedef struct {
	uintptr_t token;
	int kind;
	uint64_t count;
	double ns;
} cost_arg;

static void *cost_main(void *arg) {
	cost_arg *a = arg;
	ct_msg m = {0};
	int64_t t0 = now_ns();
	for (uint64_t i = 0; i < a->count; i++) {
		switch (a->kind) {
		case 0: foreign_signal(a->token, (int)i); break;
		case 1: foreign_post(a->token, NULL, 0); break;
		case 2: ctExportNoop(1); break;
		case 3:
			m.seq = i;
			while (foreign_post(a->token, &m, sizeof m) == FOREIGN_EFULL) {
			}
			break;
		}
	}
	a->ns = (double)(now_ns() - t0) / (double)a->count;
	return NULL;
}

double ct_cost(uintptr_t token, int kind, uint64_t count) {
	cost_arg a = {.token = token, .kind = kind, .count = count};
	pthread_t th;
	if (pthread_create(&th, NULL, cost_main, &a) != 0)
		return -1;
	pthread_join(th, NULL);
	return a.ns;
}
