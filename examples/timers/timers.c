// timers.c: the C half of the POSIX timers example. See timers.h.

#define _GNU_SOURCE
#include "timers.h"

#include "_cgo_export.h" /* tmExpired, the //export baseline */
#include "foreign.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct tm_timer {
	int kind;
	int signo;
	uintptr_t target;
	uint64_t count;
	int64_t wait_ns;
	timer_t id;
	bool created;
	struct sigaction old; // the handler tm_stop puts back

	// Shared by the notifications: atomic.
	uint64_t fired, done, waited, lost;
	int32_t last_code;
	timing tm;
};

// A notification can run after timer_delete has returned: glibc may have
// started its thread, or the kernel queued its signal, just before. So the
// state a notification reads must outlive the timer, and it lives here, in
// static storage that is never freed nor reused. A late notification finds
// its count reached and touches nothing else.
#define TM_MAX 64
static struct tm_timer pool[TM_MAX];
static uint32_t pool_next;

static bool ours(const void *p) {
	const struct tm_timer *t = p;
	return t >= pool && t < pool + TM_MAX;
}

int tm_default_signal(void) { return SIGRTMIN + 4; }

uintptr_t tm_handler_of(int signo) {
	struct sigaction sa;
	if (sigaction(signo, NULL, &sa) != 0)
		return 0;
	return sa.sa_flags & SA_SIGINFO ? (uintptr_t)sa.sa_sigaction : (uintptr_t)sa.sa_handler;
}

static void lose(tm_timer *t, int rc) {
	__atomic_fetch_add(&t->lost, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&t->last_code, rc, __ATOMIC_RELAXED);
}

// begin claims the next sequence number, or reports that the count has been
// reached (a late or surplus notification: it must do nothing).
static bool begin(tm_timer *t, tm_expiry *e, int overrun) {
	uint64_t i = __atomic_fetch_add(&t->fired, 1, __ATOMIC_RELAXED);
	if (i >= t->count)
		return false;
	e->seq = i;
	e->overrun = overrun;
	e->tid = (int32_t)gettid();
	e->at_ns = timing_now();
	return true;
}

// finish publishes that a notification is done with everything but its
// static state: release, so that whoever sees done == count also sees its
// timing sample.
static void finish(tm_timer *t) { __atomic_fetch_add(&t->done, 1, __ATOMIC_RELEASE); }

// on_thread is the SIGEV_THREAD notification: glibc runs it on a thread
// it creates for this expiration, which exits when it returns. Such a
// thread may block, so a full queue is waited out (bounded by wait_ns).
static void on_thread(union sigval v) {
	tm_timer *t = v.sival_ptr;
	tm_expiry e;
	if (!begin(t, &e, timer_getoverrun(t->id)))
		return;
	timing_mark m;
	timing_start(&t->tm, &m);
	if (t->kind == TM_THREAD_POST) {
		int rc = foreign_post(t->target, &e, sizeof e);
		if (rc == FOREIGN_EFULL) {
			__atomic_fetch_add(&t->waited, 1, __ATOMIC_RELAXED);
			rc = foreign_post_wait(t->target, &e, sizeof e, t->wait_ns);
		}
		if (rc != 0)
			lose(t, rc);
	} else {
		// Enters the Go runtime on a thread it has never seen: the thread
		// takes an M (and a P) on the way in and gives the M back when it
		// exits.
		tmExpired(t->target, &e);
	}
	timing_stop(&t->tm, &m);
	finish(t);
}

// on_signal is the SIGEV_SIGNAL notification. It runs in signal context, on
// whatever thread the kernel picked (a Go thread, often), so it may only do
// async-signal-safe things: foreign_post is one, and it preserves errno; a
// call into Go (an //export function) is not, nor is foreign_post_wait. A
// full queue is therefore counted as a loss, not waited out.
static void on_signal(int sig, siginfo_t *si, void *uc) {
	(void)sig;
	(void)uc;
	if (si->si_code != SI_TIMER || !ours(si->si_value.sival_ptr))
		return; // not one of our timers' signals
	int saved = errno;
	tm_timer *t = si->si_value.sival_ptr;
	tm_expiry e;
	if (begin(t, &e, si->si_overrun)) {
		timing_mark m;
		timing_start(&t->tm, &m); // t->tm.switches is 0: no getrusage here
		int rc = foreign_post(t->target, &e, sizeof e);
		timing_stop(&t->tm, &m);
		if (rc != 0)
			lose(t, rc);
		finish(t);
	}
	errno = saved;
}

int tm_start(tm_timer **out, int kind, uintptr_t target, int signo, uint64_t interval_ns,
             uint64_t count, int64_t wait_ns, uint64_t timings, char *errbuf, size_t errlen) {
	*out = NULL;
	uint32_t slot = __atomic_fetch_add(&pool_next, 1, __ATOMIC_RELAXED);
	if (slot >= TM_MAX) {
		snprintf(errbuf, errlen, "tm_start: more than %d timers in this process", TM_MAX);
		return -1;
	}
	tm_timer *t = &pool[slot];
	t->kind = kind;
	t->signo = signo;
	t->target = target;
	t->count = count;
	t->wait_ns = wait_ns;
	// getrusage is not async-signal-safe: no context-switch counts in a
	// signal handler.
	if (timing_init(&t->tm, timings, kind != TM_SIGNAL_POST) != 0) {
		snprintf(errbuf, errlen, "tm_start: out of memory");
		return -1;
	}

	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_value.sival_ptr = t;
	if (kind == TM_SIGNAL_POST) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_signal;
		// SA_ONSTACK: the handler may run on a Go thread, which must use
		// its signal stack; SA_RESTART: system calls it interrupts resume.
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		if (sigaction(signo, &sa, &t->old) != 0) {
			snprintf(errbuf, errlen, "sigaction: %s", strerror(errno));
			timing_free(&t->tm);
			return -1;
		}
		sev.sigev_notify = SIGEV_SIGNAL;
		sev.sigev_signo = signo;
	} else {
		sev.sigev_notify = SIGEV_THREAD;
		sev.sigev_notify_function = on_thread;
	}
	if (timer_create(CLOCK_MONOTONIC, &sev, &t->id) != 0) {
		snprintf(errbuf, errlen, "timer_create: %s", strerror(errno));
		tm_stop(t);
		timing_free(&t->tm);
		return -1;
	}
	t->created = true;
	struct itimerspec its = {
	    .it_interval = {.tv_sec = (time_t)(interval_ns / 1000000000u), .tv_nsec = (long)(interval_ns % 1000000000u)},
	};
	its.it_value = its.it_interval;
	if (timer_settime(t->id, 0, &its, NULL) != 0) {
		snprintf(errbuf, errlen, "timer_settime: %s", strerror(errno));
		tm_stop(t);
		timing_free(&t->tm);
		return -1;
	}
	*out = t;
	return 0;
}

void tm_stats_get(tm_timer *t, tm_stats *out) {
	memset(out, 0, sizeof *out);
	out->fired = __atomic_load_n(&t->fired, __ATOMIC_RELAXED);
	out->done = __atomic_load_n(&t->done, __ATOMIC_ACQUIRE);
	out->waited = __atomic_load_n(&t->waited, __ATOMIC_RELAXED);
	out->lost = __atomic_load_n(&t->lost, __ATOMIC_RELAXED);
	out->last_code = __atomic_load_n(&t->last_code, __ATOMIC_RELAXED);
	out->slept = __atomic_load_n(&t->tm.slept, __ATOMIC_RELAXED);
	out->preempted = __atomic_load_n(&t->tm.preempted, __ATOMIC_RELAXED);
}

void tm_stop(tm_timer *t) {
	if (t->created) {
		timer_delete(t->id);
		t->created = false;
	}
	if (t->kind == TM_SIGNAL_POST && t->signo != 0) {
		// A signal generated before timer_delete may still arrive: the
		// restored handler (Go's, for a program that did not ask for this
		// signal) ignores it.
		sigaction(t->signo, &t->old, NULL);
		t->signo = 0;
	}
}

uint64_t tm_timings(tm_timer *t, const uint64_t **ns) {
	*ns = t->tm.ns;
	return timing_kept(&t->tm);
}

void tm_free(tm_timer *t) { timing_free(&t->tm); }
