// sys.c: the one seam between the portable code and the operating
// system: the wake-up descriptor (an eventfd on Linux, a pipe elsewhere and
// in the tests), sleeping on a 32-bit word (futex(2) on Linux, a portable
// condition-variable fallback that the tests run on Linux too), and the
// monotonic clock. Declared in fq.h.
#include "fq.h"

// FQ_LINUX selects the Linux pieces (eventfd, futex). The build tag
// foreign_portable (cgo.go) turns them off, so that the portable fallback
// (a pipe, a mutex and condition variable) is what runs, and the whole test
// suite can run it on Linux too.
#if defined(__linux__) && !defined(FQ_PORTABLE)
#define FQ_LINUX 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#ifdef FQ_LINUX
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#endif

// use_futex selects the sleep: futex(2), or the fallback. Atomic: the tests
// switch it while other threads may be waiting.
#ifdef FQ_LINUX
static _Atomic int use_futex = 1;
#else
static _Atomic int use_futex = 0;
#endif

FQ_FN int fq_set_futex(int on) {
#ifdef FQ_LINUX
	return atomic_exchange_explicit(&use_futex, on != 0, memory_order_relaxed);
#else
	(void)on;
	return 0;
#endif
}

FQ_FN int fq_using_futex(void) { return atomic_load_explicit(&use_futex, memory_order_relaxed); }

FQ_FN int fq_open_wake(int kind, int64_t *wfd, int64_t *rfd) {
#ifdef FQ_LINUX
	if (kind == FQ_WAKE_EVENTFD) {
		int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		*wfd = *rfd = fd;
		return 0;
	}
#endif
	int p[2];
	if (pipe(p) != 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
		fcntl(p[i], F_SETFD, FD_CLOEXEC);
	}
	*rfd = p[0];
	*wfd = p[1];
	return 0;
}

FQ_FN void fq_close_pair(int64_t r, int64_t w) {
	if (r >= 0)
		close((int)r);
	if (w >= 0 && w != r)
		close((int)w);
}

FQ_FN void fq_write_wake(int64_t fd, int eventfd) {
	int saved = errno; // a signal handler must not disturb errno
	if (eventfd) {
		uint64_t one = 1;
		(void)!write((int)fd, &one, sizeof one);
	} else {
		char one = 1;
		(void)!write((int)fd, &one, 1); // EAGAIN: the pipe is full, so already readable
	}
	errno = saved;
}

FQ_FN void fq_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

FQ_FN int64_t fq_now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

FQ_FN int64_t fq_deadline(int64_t timeout_ns) {
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

FQ_FN int fq_wait32(_Atomic uint32_t *addr, uint32_t val, int64_t deadline) {
#ifdef FQ_LINUX
	if (atomic_load_explicit(&use_futex, memory_order_relaxed)) {
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

FQ_FN void fq_wake32(_Atomic uint32_t *addr) {
#ifdef FQ_LINUX
	if (atomic_load_explicit(&use_futex, memory_order_relaxed)) {
		syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL, NULL, 0);
		return;
	}
#endif
	cond_wake32(addr);
}

// Parking on the futex (block.h, "Park and wake"): the consumer sleeps
// while its park word is FQ_PARK_FUTEX; a producer changes the word and
// then wakes it. Linux only: fq_futex_park reports whether it is there.
// No cancellation games here, unlike fq_wait32: only the Go consumer
// sleeps this way, and Go threads are never cancelled.
FQ_FN int fq_futex_park(void) {
#ifdef FQ_LINUX
	return 1;
#else
	return 0;
#endif
}

// futex_refused makes fq_park_sleep fail as a kernel that refuses the
// futex would (a test hook).
static _Atomic int futex_refused;

FQ_FN void fq_refuse_futex(int on) { atomic_store_explicit(&futex_refused, on != 0, memory_order_relaxed); }

FQ_FN int fq_park_sleep(_Atomic uint32_t *park, int64_t timeout_ns) {
	if (atomic_load_explicit(&futex_refused, memory_order_relaxed))
		return -ENOSYS;
#ifdef FQ_LINUX
	// Returns at once if the word is no longer FQ_PARK_FUTEX, on a wake-up,
	// after timeout_ns (if not negative), or spuriously (a signal): the
	// consumer looks again in every case. Any other failure (the system
	// call refused, as a seccomp filter may) is reported: the consumer then
	// parks on its fd instead of spinning here.
	struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
	if (syscall(SYS_futex, (uint32_t *)park, FUTEX_WAIT_PRIVATE, FQ_PARK_FUTEX, timeout_ns < 0 ? NULL : &ts, NULL,
	            0) != 0 &&
	    errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
		return -errno;
	return 0;
#else
	(void)park;
	(void)timeout_ns;
	return -ENOSYS;
#endif
}

FQ_FN void fq_park_wake(_Atomic uint32_t *park) {
#ifdef FQ_LINUX
	int saved = errno; // a signal handler must not disturb errno
	syscall(SYS_futex, (uint32_t *)park, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	errno = saved;
#else
	(void)park;
#endif
}
