/*
 * timers.h: a POSIX interval timer (timer_create, glibc) whose expirations
 * are handed to Go from where glibc runs them: with SIGEV_THREAD, a function
 * on a thread glibc creates for the expiration; with SIGEV_SIGNAL, a signal
 * handler. Go side: binding.go.
 */
#ifndef EXAMPLE_TIMERS_H
#define EXAMPLE_TIMERS_H

#include <stddef.h>
#include <stdint.h>

/* One expiration as the notification saw it (Expiry in binding.go). */
typedef struct {
	uint64_t seq;     /* 0, 1, 2, ...: the order the notifications started in */
	int32_t overrun;  /* expirations merged into this one (timer_getoverrun, si_overrun) */
	int32_t tid;      /* the thread the notification ran on */
	uint64_t at_ns;   /* CLOCK_MONOTONIC when it ran */
} tm_expiry;

/* How the timer notifies, and how the notification reaches Go. */
enum {
	TM_THREAD_POST = 1,   /* SIGEV_THREAD; foreign_post (foreign_post_wait when full) */
	TM_THREAD_EXPORT = 2, /* SIGEV_THREAD; call the exported tmExpired */
	TM_SIGNAL_POST = 3,   /* SIGEV_SIGNAL; foreign_post from the signal handler */
};

typedef struct {
	uint64_t fired;     /* notifications that ran (may pass count: those do nothing) */
	uint64_t done;      /* notifications that finished handing over */
	uint64_t waited;    /* posts that found the queue full and waited (threads only) */
	uint64_t lost;      /* posts refused: counted, not delivered */
	int32_t last_code;  /* the last refusal's FOREIGN_E* code */
	int32_t pad;
	uint64_t slept;     /* hand-offs during which the thread slept (timing.h) */
	uint64_t preempted; /* hand-offs during which it was preempted or yielded */
} tm_stats;

typedef struct tm_timer tm_timer;

/*
 * tm_start creates a CLOCK_MONOTONIC timer that expires every interval_ns
 * and hands its first count notifications to target (a foreign token, or a
 * cgo.Handle for TM_THREAD_EXPORT). For TM_SIGNAL_POST it first installs a
 * handler for signo (SA_ONSTACK | SA_SIGINFO | SA_RESTART), which tm_stop
 * puts back as it was: one signal timer per signal at a time. wait_ns
 * bounds a thread's wait for room in a full queue. It returns 0 and the
 * timer in *out, or -1 and a message in errbuf.
 */
int tm_start(tm_timer **out, int kind, uintptr_t target, int signo, uint64_t interval_ns,
             uint64_t count, int64_t wait_ns, uint64_t timings, char *errbuf, size_t errlen);

void tm_stats_get(tm_timer *t, tm_stats *out);

/* tm_stop deletes the timer and restores the signal handler. A notification
 * already under way may still run after it; it finds its count reached and
 * does nothing. */
void tm_stop(tm_timer *t);

/* tm_timings points *ns at the kept durations and returns how many there
 * are. Call it after tm_stop, once stats.done has reached count. */
uint64_t tm_timings(tm_timer *t, const uint64_t **ns);

/* tm_free releases the samples; the timer's own state is never freed (see
 * timers.c). */
void tm_free(tm_timer *t);

/* tm_handler_of returns the address of signo's current handler (for the
 * test that Stop puts it back). */
uintptr_t tm_handler_of(int signo);

/* tm_default_signal is the signal the example uses: SIGRTMIN + 4. */
int tm_default_signal(void);

#endif
