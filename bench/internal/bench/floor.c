// floor.c: the machine's floors for wake-ups and calls, in C alone: a C
// thread waking a C thread parked on a futex, and a round trip between two
// C threads on futexes. The wake-up and call scenarios measure the library
// against them in the same run.
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void fwait(_Atomic uint32_t *w, uint32_t v) {
	while (atomic_load(w) == v)
		syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void fwake(_Atomic uint32_t *w) { syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

typedef struct {
	int pingpong, events;
	_Atomic uint32_t req, resp;
	_Atomic uint64_t stamp;
	uint64_t *ticks;
} floor_run;

// peer is the parked side: for the wake-up, it records how long after the
// stamp it runs; for the ping-pong, it answers each request.
static void *peer(void *p) {
	floor_run *f = p;
	for (uint32_t i = 0; i < (uint32_t)f->events; i++) {
		fwait(&f->req, i);
		if (f->pingpong) {
			atomic_store(&f->resp, i + 1);
			fwake(&f->resp);
		} else {
			f->ticks[i] = bh_now_ticks() - atomic_load(&f->stamp);
			atomic_store(&f->resp, i + 1);
		}
	}
	return NULL;
}

static void pause_ns(int64_t ns) {
	struct timespec d = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
	nanosleep(&d, NULL);
}

int bh_futex_floor(int pingpong, int events, int64_t gap_ns, uint64_t *ticks) {
	floor_run f = {.pingpong = pingpong, .events = events, .ticks = ticks};
	pthread_t th;
	int rc = pthread_create(&th, NULL, peer, &f);
	if (rc != 0)
		return -rc;
	for (uint32_t i = 0; i < (uint32_t)events; i++) {
		pause_ns(gap_ns); // the peer parks meanwhile
		uint64_t t0 = bh_now_ticks();
		atomic_store(&f.stamp, t0);
		atomic_store(&f.req, i + 1);
		fwake(&f.req);
		if (pingpong) {
			fwait(&f.resp, i);
			ticks[i] = bh_now_ticks() - t0;
		} else {
			while (atomic_load(&f.resp) != i + 1) // the peer took its stamp
				sched_yield();
		}
	}
	pthread_join(th, NULL);
	return 0;
}

// A gate that goroutines block on in C (LoadBlockedC): bh_block_wait
// returns once bh_block_release has been called.
struct bh_block {
	_Atomic uint32_t open;
	_Atomic int blocked;
};

bh_block *bh_block_new(void) { return calloc(1, sizeof(bh_block)); }

void bh_block_wait(bh_block *b) {
	atomic_fetch_add(&b->blocked, 1);
	fwait(&b->open, 0);
}

int bh_block_blocked(bh_block *b) { return atomic_load(&b->blocked); }

void bh_block_release(bh_block *b) {
	atomic_store(&b->open, 1);
	syscall(SYS_futex, (uint32_t *)&b->open, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

void bh_block_free(bh_block *b) { free(b); }

// A C thread that spins until stopped (MeasureFresh): it keeps a second
// CPU awake for every strategy alike, as a consumer that spins between
// events does for this library's, so that no strategy is measured with the
// other CPU in a deeper idle state than another.
struct bh_spinner {
	pthread_t th;
	_Atomic int stop;
};

static void *spin_main(void *p) {
	bh_spinner *s = p;
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	return NULL;
}

bh_spinner *bh_spinner_start(void) {
	bh_spinner *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	if (pthread_create(&s->th, NULL, spin_main, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

void bh_spinner_stop(bh_spinner *s) {
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	free(s);
}
