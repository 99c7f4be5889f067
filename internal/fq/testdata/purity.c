// purity.c: the fast path at run time, counted. Built by purity_test.go
// with the library's C (one translation unit) and -Wl,--wrap for the
// allocator, the mutexes and write(2): every call made while a thread is
// inside foreign_post, foreign_signal or foreign_release is counted. Two
// producer threads post into a queue drained by a C consumer that parks
// when it runs dry, and signal an interrupt and release references; the
// program prints what it counted and the consumer's parked-to-running
// transitions, and exits 1 if the fast path allocated or locked, or wrote
// more often than it had a consumer to wake.
//
// Usage: purity messages-per-producer [must-park]
// With must-park, a run in which the consumer never parked fails too (a
// run under strace is too slow for the consumer to run dry).
#include "fq.c"
#include "cconsumer.c"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Thread_local int inside; // in a fast-path call of the ABI
static _Atomic uint64_t n_alloc, n_lock, n_write;

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void __real_free(void *);
int __real_posix_memalign(void **, size_t, size_t);
int __real_pthread_mutex_lock(pthread_mutex_t *);
int __real_pthread_mutex_unlock(pthread_mutex_t *);
int __real_pthread_mutex_trylock(pthread_mutex_t *);
ssize_t __real_write(int, const void *, size_t);

#define COUNT(c) (inside ? (void)atomic_fetch_add(&(c), 1) : (void)0)
void *__wrap_malloc(size_t n) { COUNT(n_alloc); return __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { COUNT(n_alloc); return __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { COUNT(n_alloc); return __real_realloc(p, n); }
void __wrap_free(void *p) { COUNT(n_alloc); __real_free(p); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { COUNT(n_alloc); return __real_posix_memalign(p, a, n); }
int __wrap_pthread_mutex_lock(pthread_mutex_t *m) { COUNT(n_lock); return __real_pthread_mutex_lock(m); }
int __wrap_pthread_mutex_unlock(pthread_mutex_t *m) { COUNT(n_lock); return __real_pthread_mutex_unlock(m); }
int __wrap_pthread_mutex_trylock(pthread_mutex_t *m) { COUNT(n_lock); return __real_pthread_mutex_trylock(m); }
ssize_t __wrap_write(int fd, const void *b, size_t n) { COUNT(n_write); return __real_write(fd, b, n); }

typedef struct {
	uint32_t producer, pad;
	uint64_t seq;
} msg;

static uintptr_t qtok, itok;
static fq_ctl *qc;
static uint64_t per;
static _Atomic uint64_t posts, signals, releases;

static void *producer(void *arg) {
	uint32_t id = (uint32_t)(uintptr_t)arg;
	for (uint64_t s = 0; s < per;) {
		msg m = {id, 0, s};
		inside = 1;
		int rc = foreign_post(qtok, &m, sizeof m);
		inside = 0;
		atomic_fetch_add(&posts, 1);
		if (rc == 0 && ++s % (per / 20 + 1) == 0) { // 20 pauses per producer
			struct timespec pause = {0, 2000000}; // the consumer runs dry and parks
			nanosleep(&pause, NULL);
		} else if (rc != 0 && rc != FOREIGN_EFULL) {
			exit(3);
		}
		if (s % 64 == 0) {
			inside = 1;
			(void)foreign_signal(itok, (int)s);
			inside = 0;
			atomic_fetch_add(&signals, 1);
			if (foreign_acquire(qtok) != 0) // not async-signal-safe, not counted
				exit(4);
			inside = 1;
			(void)foreign_release(qtok);
			inside = 0;
			atomic_fetch_add(&releases, 1);
		}
	}
	return NULL;
}

static void *consumer(void *arg) {
	(void)arg;
	uint64_t got = 0, want = 2 * per;
	msg m;
	while (got < want) {
		int r = fq_c_recv(qc, &m);
		if (r > 0) {
			got++;
			continue;
		}
		for (int i = 0; i < 200 && (r = fq_c_recv(qc, &m)) == 0; i++)
			sched_yield(); // a short spin, far shorter than the producers' pauses, then park
		if (r > 0) {
			got++;
			continue;
		}
		fq_c_park(qc);
	}
	return NULL;
}

int main(int argc, char **argv) {
	per = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	fq_open_args q = {.msg_size = sizeof(msg), .capacity = 1024, .wake_kind = FQ_WAKE_EVENTFD};
	fq_open_args in = {.kind = FQ_KIND_INTERRUPT, .wake_kind = FQ_WAKE_EVENTFD, .with_fd = 1};
	fq_ctl *ic;
	if (fq_open(&q, &qtok, &qc) != 0 || fq_open(&in, &itok, &ic) != 0)
		return 2;
	pthread_t c, p[2];
	pthread_create(&c, NULL, consumer, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)i);
	for (int i = 0; i < 2; i++)
		pthread_join(p[i], NULL);
	pthread_join(c, NULL);
	uint64_t wakeups = atomic_load(&qc->wakeups);
	printf("purity: %" PRIu64 " foreign_post calls (%" PRIu64 " accepted), %" PRIu64 " signals, %" PRIu64
	       " releases from 2 threads: "
	       "%" PRIu64 " allocator calls, %" PRIu64 " mutex calls, %" PRIu64 " writes; "
	       "%" PRIu64 " parked-to-running wake-ups of the consumer\n",
	       atomic_load(&posts), 2 * per, atomic_load(&signals), atomic_load(&releases), atomic_load(&n_alloc),
	       atomic_load(&n_lock), atomic_load(&n_write), wakeups);
	// Each write is a consumer's wake-up (one per parked transition) or the
	// interrupt's fd, written only on its not-pending -> pending transition:
	// once, as nothing here takes the signal.
	if (atomic_load(&n_alloc) != 0 || atomic_load(&n_lock) != 0 || atomic_load(&n_write) > wakeups + 1 ||
	    (argc > 2 && wakeups == 0))
		return 1;
	return 0;
}
