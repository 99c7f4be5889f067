// harness.h: what the C-only sanitizer tests (stress.c, calls.c, bytes.c) share:
// failing fast, a per-thread random generator, sleeping, and the watchdog
// that turns a hang into a failure. Each test is one translation unit that
// defines HARNESS_NAME and then includes this, so everything here is static.
//
// A failure prints "<name>: FAIL: ..." and exits 1 at once. The watchdog
// fails the run when no thread has called bump() for WATCHDOG_SECS: a lost
// wake-up or a livelock then fails CI instead of timing it out, and the
// message names the phase that hung.

#ifndef CSAN_HARNESS_H
#define CSAN_HARNESS_H

#ifndef HARNESS_NAME
#error "define HARNESS_NAME before including harness.h"
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { WATCHDOG_SECS = 30 }; // no progress for this long is a hang

static uint64_t seed; // printed with every failure, so a run can be repeated

// The format attribute lets -Wformat check every failure message, which
// otherwise only runs when something is already wrong.
__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...);

static void fail(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, HARNESS_NAME ": FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (seed %" PRIu64 ")\n", seed);
	va_end(ap);
	// _exit, not exit: other threads are still running and must not see
	// atexit handlers or freed globals.
	_exit(1);
}

// A small xorshift generator per thread: rand() is not thread-safe. The
// state must not be 0 (xorshift's one fixed point).
static uint64_t next_rand(uint64_t *s) {
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void sleep_ns(long ns) {
	struct timespec ts = {.tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static int64_t mono_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double now_sec(void) { return (double)mono_ns() / 1e9; }

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
	int err = pthread_create(t, NULL, fn, arg);
	if (err != 0)
		fail("pthread_create: %s", strerror(err));
}

// ---- watchdog ------------------------------------------------------------

// Every thread that makes progress bumps this; the watchdog fails the run if
// it stands still.
static _Atomic uint64_t progress;
static _Atomic(const char *) phase = "start";
static _Atomic int watchdog_stop;

static void *watchdog_main(void *arg) {
	(void)arg;
	uint64_t last = atomic_load(&progress);
	int still = 0;
	while (!atomic_load(&watchdog_stop)) {
		sleep_ns(100 * 1000 * 1000);
		uint64_t p = atomic_load(&progress);
		if (p != last) {
			last = p;
			still = 0;
		} else if (++still >= WATCHDOG_SECS * 10) {
			fail("no progress for %d s in phase %s: lost wake-up or livelock", WATCHDOG_SECS,
			     atomic_load(&phase));
		}
	}
	return NULL;
}

static void bump(void) { atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed); }

// fq_open8 opens a handle with fq_open: a queue, or with call_ret >= 0 a
// function.
static inline int fq_open8(uint64_t msg_size, uint64_t capacity, uint64_t start, int wake_kind, int64_t call_arg,
                         int64_t call_ret, uintptr_t *token, fq_ctl **c) {
	fq_open_args a = {
		.msg_size = msg_size, .capacity = capacity, .start = start, .wake_kind = wake_kind,
		.kind = call_ret < 0 ? FQ_KIND_QUEUE : FQ_KIND_FUNC, .call_arg = call_arg, .call_ret = call_ret,
	};
	return fq_open(&a, token, c);
}

// fq_close8 closes the handle t names as Close does and returns the
// final position (also on a second close).
static inline uint64_t fq_close8(uintptr_t t) {
	uint64_t final = 0;
	fq_close_token(t, &final);
	return final;
}

#endif // CSAN_HARNESS_H
