// wait.c: sleeping on a 32-bit word, with futex(2) on Linux and a portable
// condition-variable fallback. See wait.h for the contract.
#define _GNU_SOURCE
#include "wait.h"
#include "foreign.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
int fq_use_futex = 1;
#else
int fq_use_futex = 0;
#endif

int64_t fq_now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t fq_deadline(int64_t timeout_ns) {
	if (timeout_ns < 0)
		return -1;
	int64_t now = fq_now_ns();
	return timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
}

// The fallback: buckets of mutex + condvar (CLOCK_MONOTONIC), hashed by
// address. Collisions only cause spurious wake-ups.
#define FQ_BUCKETS 64
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
} fq_buckets[FQ_BUCKETS];
static pthread_once_t fq_buckets_once = PTHREAD_ONCE_INIT;

static void buckets_init(void) {
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	for (int i = 0; i < FQ_BUCKETS; i++) {
		pthread_mutex_init(&fq_buckets[i].mu, NULL);
		pthread_cond_init(&fq_buckets[i].cv, &attr);
	}
	pthread_condattr_destroy(&attr);
}

static unsigned bucket_of(const void *addr) {
	uintptr_t a = (uintptr_t)addr;
	return (unsigned)((a >> 3) ^ (a >> 11)) % FQ_BUCKETS;
}

static void unlock_bucket(void *mu) { pthread_mutex_unlock(mu); }

static int cond_wait32(_Atomic uint32_t *addr, uint32_t val, int64_t deadline) {
	pthread_once(&fq_buckets_once, buckets_init);
	unsigned b = bucket_of(addr);
	int rc = 0;
	pthread_mutex_lock(&fq_buckets[b].mu);
	// pthread_cond_(timed)wait is a cancellation point, and a cancelled
	// waiter wakes with the mutex held: unlock it on the way out, or every
	// later waiter and waker of this bucket would block for ever.
	pthread_cleanup_push(unlock_bucket, &fq_buckets[b].mu);
	while (atomic_load(addr) == val) {
		if (deadline < 0) {
			pthread_cond_wait(&fq_buckets[b].cv, &fq_buckets[b].mu);
			continue;
		}
		struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
		if (pthread_cond_timedwait(&fq_buckets[b].cv, &fq_buckets[b].mu, &ts) == ETIMEDOUT) {
			if (atomic_load(addr) == val)
				rc = FOREIGN_ETIMEDOUT;
			break;
		}
	}
	pthread_cleanup_pop(1);
	return rc;
}

static void cond_wake32(_Atomic uint32_t *addr) {
	pthread_once(&fq_buckets_once, buckets_init);
	unsigned b = bucket_of(addr);
	// Taking the lock orders this wake after any waiter's check of *addr.
	pthread_mutex_lock(&fq_buckets[b].mu);
	pthread_cond_broadcast(&fq_buckets[b].cv);
	pthread_mutex_unlock(&fq_buckets[b].mu);
}

int fq_wait32(_Atomic uint32_t *addr, uint32_t val, int64_t deadline) {
#ifdef __linux__
	if (fq_use_futex) {
		if (atomic_load(addr) != val)
			return 0;
		struct timespec ts, *tsp = NULL;
		if (deadline >= 0) {
			ts.tv_sec = deadline / 1000000000;
			ts.tv_nsec = deadline % 1000000000;
			tsp = &ts;
		}
		// FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
		// The raw system call is no cancellation point of its own; made
		// one here, as the condition-variable wait is, so that a waiter
		// can be cancelled (its caller's cleanup handlers then run).
		int oldtype, err;
		pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
		long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val, tsp,
		                 NULL, FUTEX_BITSET_MATCH_ANY);
		err = errno;
		pthread_setcanceltype(oldtype, NULL);
		if (r != 0 && err == ETIMEDOUT && atomic_load(addr) == val)
			return FOREIGN_ETIMEDOUT;
		return 0;
	}
#endif
	return cond_wait32(addr, val, deadline);
}

void fq_wake32(_Atomic uint32_t *addr) {
#ifdef __linux__
	if (fq_use_futex) {
		syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL, NULL, 0);
		return;
	}
#endif
	cond_wake32(addr);
}
