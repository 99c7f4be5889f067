// purity.c: the fast path at run time, counted. Built by purity_test.go
// with the library's C (one translation unit) and -Wl,--wrap for the
// allocator, the mutexes and write(2): every call made while a thread is
// inside foreign_post, foreign_postv, foreign_signal or foreign_release is
// counted. Two producer threads post into a queue and, with gather lists
// of messages of varying length, into a byte ring, each drained by a C
// consumer that parks when it runs dry (cconsumer.c, cbytes.c), and signal
// an interrupt and release references; the program prints what it counted
// and the consumers' parked-to-running transitions, and exits 1 if the fast
// path allocated or locked, or wrote more often than it had a consumer to
// wake.
//
// Usage: purity messages-per-producer [must-park]
// With must-park, a run in which a consumer never parked fails too (a run
// under strace is too slow for the consumers to run dry).
#include "fq.c"
#include "cconsumer.c"
#include "cbytes.c"

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

static uintptr_t qtok, itok, btok;
static fq_ctl *qc, *bc;
static uint64_t per;
static _Atomic uint64_t posts, bposts, signals, releases;

// A byte ring's message: this header, then bpay(seq) bytes of pattern.
// BMAX is not a multiple of 8, nor are most lengths: records end in padding.
// The ring keeps stamps (block.h, "Stamps"), so that the clock read of a
// stamped post is counted too; it is the only step a plain ring lacks.
enum { BMAX = 203, BRING = 4096 };
typedef struct {
	uint32_t producer, len;
	uint64_t seq;
} bhdr;
static unsigned char pattern[BMAX];
static size_t bpay(uint64_t seq) { return (size_t)(seq * 7 % (BMAX - sizeof(bhdr) + 1)); }

// post_bytes posts message seq of producer id into the byte ring as a
// gather list: the header, the payload, and an empty part with no base.
static int post_bytes(uint32_t id, uint64_t seq) {
	bhdr h = {id, (uint32_t)bpay(seq), seq};
	struct foreign_iovec iov[3] = {{&h, sizeof h}, {pattern, bpay(seq)}, {NULL, 0}};
	inside = 1;
	int rc = foreign_postv(btok, iov, 3);
	inside = 0;
	atomic_fetch_add(&bposts, 1);
	return rc;
}

static void *producer(void *arg) {
	uint32_t id = (uint32_t)(uintptr_t)arg;
	for (uint64_t s = 0, bs = 0; s < per || bs < per;) {
		// Two consumers and two producers on as few as two cores: a
		// producer that spun on a full ring would hold a core the
		// consumers need for whole time slices.
		int full = 0;
		if (bs < per) {
			int rc = post_bytes(id, bs);
			if (rc == 0)
				bs++;
			else if (rc != FOREIGN_EFULL)
				exit(5);
			full = rc != 0;
		}
		if (s == per) {
			if (full)
				sched_yield();
			continue;
		}
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
		} else if (rc != 0 && full) {
			sched_yield();
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

// bconsumer drains the byte ring as consumer drains the queue, checking
// each producer's order and every message's bytes.
static void *bconsumer(void *arg) {
	(void)arg;
	fq_c_bytes b;
	fq_c_bytes_init(&b, bc);
	uint64_t got = 0, want = 2 * per, next[2] = {0, 0};
	for (int idle = 0; got < want;) {
		const unsigned char *p;
		size_t len;
		int r = fq_c_next(&b, &p, &len), n = 0;
		for (; r == 1; r = n < 64 ? fq_c_next(&b, &p, &len) : 0) {
			bhdr h;
			if (len < sizeof h)
				exit(6);
			memcpy(&h, p, sizeof h);
			if (h.producer > 1 || h.seq != next[h.producer] || h.len != bpay(h.seq) ||
			    len != sizeof h + h.len || memcmp(p + sizeof h, pattern, h.len) != 0)
				exit(6);
			next[h.producer]++;
			got++;
			n++;
		}
		if (r == FQ_C_CORRUPT)
			exit(6);
		if (n > 0) {
			fq_c_release(&b);
			idle = 0;
		} else if (++idle < 200) {
			sched_yield(); // a short spin, as consumer's, then park
		} else {
			idle = 0;
			fq_c_bytes_park(&b);
		}
	}
	fq_c_release(&b);
	return NULL;
}

int main(int argc, char **argv) {
	per = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	fq_open_args q = {.msg_size = sizeof(msg), .capacity = 1024, .wake_kind = FQ_WAKE_EVENTFD};
	fq_open_args in = {.kind = FQ_KIND_INTERRUPT, .wake_kind = FQ_WAKE_EVENTFD, .with_fd = 1};
	fq_open_args by = {.msg_size = BMAX, .capacity = BRING, .wake_kind = FQ_WAKE_EVENTFD, .bytes = 1,
	                   .flags = FQ_FLAG_STAMP};
	fq_ctl *ic;
	if (fq_open(&q, &qtok, &qc) != 0 || fq_open(&in, &itok, &ic) != 0 || fq_open(&by, &btok, &bc) != 0)
		return 2;
	for (size_t i = 0; i < sizeof pattern; i++)
		pattern[i] = (unsigned char)(i * 31 + 7);
	pthread_t c, bcons, p[2];
	pthread_create(&c, NULL, consumer, NULL);
	pthread_create(&bcons, NULL, bconsumer, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)i);
	for (int i = 0; i < 2; i++)
		pthread_join(p[i], NULL);
	pthread_join(c, NULL);
	pthread_join(bcons, NULL);
	uint64_t qwake = atomic_load(&qc->wakeups), bwake = atomic_load(&bc->wakeups);
	printf("purity: %" PRIu64 " foreign_post calls (%" PRIu64 " accepted), %" PRIu64
	       " foreign_postv calls into a byte ring (%" PRIu64 " accepted), %" PRIu64 " signals, %" PRIu64
	       " releases from 2 threads: "
	       "%" PRIu64 " allocator calls, %" PRIu64 " mutex calls, %" PRIu64 " writes; "
	       "%" PRIu64 " + %" PRIu64 " parked-to-running wake-ups of the consumers\n",
	       atomic_load(&posts), 2 * per, atomic_load(&bposts), 2 * per, atomic_load(&signals),
	       atomic_load(&releases), atomic_load(&n_alloc), atomic_load(&n_lock), atomic_load(&n_write), qwake,
	       bwake);
	// Each write is a consumer's wake-up (one per parked transition) or the
	// interrupt's fd, written only on its not-pending -> pending transition:
	// once, as nothing here takes the signal.
	if (atomic_load(&n_alloc) != 0 || atomic_load(&n_lock) != 0 || atomic_load(&n_write) > qwake + bwake + 1 ||
	    (argc > 2 && (qwake == 0 || bwake == 0)))
		return 1;
	return 0;
}
