// alt.c: the alternatives to foreign_post that the benchmark compares it
// with, written the way a C programmer would without this library. See
// harness.h.

#define _GNU_SOURCE
#include "harness.h"

#include "foreign.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

// ---- One system call per event ----

int bh_call_eventfd(uintptr_t target, const bh_msg *m) {
	(void)m;
	uint64_t one = 1;
	return write((int)target, &one, sizeof one) == sizeof one ? 0 : -errno;
}

// A write of at most PIPE_BUF bytes is atomic, so messages from several
// producers never interleave.
int bh_call_pipe(uintptr_t target, const bh_msg *m) {
	return write((int)target, m, sizeof *m) == sizeof *m ? 0 : -errno;
}

// ---- Coalescing wake-up ----

struct bh_async {
	_Atomic uint64_t latest; // seq+1 of the latest post; 0: none yet
	_Atomic int pending;     // set by the post that writes the eventfd
	int fd;
};

int bh_eventfd(void) {
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

bh_async *bh_async_new(int fd) {
	bh_async *a = calloc(1, sizeof *a);
	if (a != NULL)
		a->fd = fd;
	return a;
}

uint64_t bh_async_latest(bh_async *a) { return atomic_load(&a->latest); }

// The value is stored before pending is exchanged (both seq_cst), and the
// consumer clears pending before it reads the value: a post that finds
// pending set is therefore seen by the wake-up already on its way.
int bh_call_async(uintptr_t target, const bh_msg *m) {
	bh_async *a = (bh_async *)target;
	atomic_store(&a->latest, m->seq + 1);
	if (atomic_exchange(&a->pending, 1) == 0) {
		uint64_t one = 1;
		if (write(a->fd, &one, sizeof one) != sizeof one)
			return -errno;
	}
	return 0;
}

uint64_t bh_async_take(bh_async *a) {
	atomic_store(&a->pending, 0);
	return atomic_load(&a->latest);
}

void bh_async_free(bh_async *a) { free(a); }

// ---- Mutex + condition variable queue ----

struct bh_cvq {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	uint64_t head, tail, cap; // guarded by mu
	int closed, waiting;      // waiting: producers blocked on not_full
	bh_msg *buf;
};

bh_cvq *bh_cvq_new(uint64_t capacity, int *err) {
	bh_cvq *q = calloc(1, sizeof *q);
	if (q == NULL || capacity == 0 || (q->buf = calloc(capacity, sizeof *q->buf)) == NULL) {
		free(q);
		*err = capacity == 0 ? -EINVAL : -ENOMEM;
		return NULL;
	}
	q->cap = capacity;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	*err = 0;
	return q;
}

// A full queue blocks the producer, as such a queue usually does; signalling
// only on the empty -> non-empty transition is the usual economy.
int bh_call_condvar(uintptr_t target, const bh_msg *m) {
	bh_cvq *q = (bh_cvq *)target;
	pthread_mutex_lock(&q->mu);
	while (q->tail - q->head == q->cap && !q->closed) {
		q->waiting++;
		pthread_cond_wait(&q->not_full, &q->mu);
		q->waiting--;
	}
	if (q->closed) {
		pthread_mutex_unlock(&q->mu);
		return FOREIGN_ECLOSED;
	}
	int was_empty = q->tail == q->head;
	q->buf[q->tail++ % q->cap] = *m;
	pthread_mutex_unlock(&q->mu);
	if (was_empty)
		pthread_cond_signal(&q->not_empty);
	return 0;
}

int bh_cvq_pop(bh_cvq *q, bh_msg *out, int max) {
	pthread_mutex_lock(&q->mu);
	while (q->tail == q->head && !q->closed)
		pthread_cond_wait(&q->not_empty, &q->mu);
	int n = 0;
	while (n < max && q->head != q->tail)
		out[n++] = q->buf[q->head++ % q->cap];
	int wake = q->waiting > 0;
	pthread_mutex_unlock(&q->mu);
	if (wake)
		pthread_cond_broadcast(&q->not_full);
	return n == 0 ? -1 : n;
}

void bh_cvq_close(bh_cvq *q) {
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	pthread_mutex_unlock(&q->mu);
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
}

void bh_cvq_free(bh_cvq *q) {
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	pthread_mutex_destroy(&q->mu);
	free(q->buf);
	free(q);
}

// ---- Calls: foreign_call and a condvar handshake ----

int bh_call_foreign_call(uintptr_t target, const bh_msg *m) {
	uint64_t arg = m->seq, ret = 0;
	int rc = foreign_call((foreign_token)target, &arg, sizeof arg, &ret, sizeof ret, -1);
	if (rc != 0)
		return rc;
	return ret == arg + 1 ? 0 : BH_EBADREPLY;
}

struct bh_rpc {
	pthread_mutex_t mu;
	pthread_cond_t req_cv, rep_cv;
	int has_req, has_rep, closed; // guarded by mu
	uint64_t arg, ret;
};

bh_rpc *bh_rpc_new(int *err) {
	bh_rpc *r = calloc(1, sizeof *r);
	if (r == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->req_cv, NULL);
	pthread_cond_init(&r->rep_cv, NULL);
	*err = 0;
	return r;
}

int bh_call_cv(uintptr_t target, const bh_msg *m) {
	bh_rpc *r = (bh_rpc *)target;
	pthread_mutex_lock(&r->mu);
	if (r->closed) {
		pthread_mutex_unlock(&r->mu);
		return FOREIGN_ECLOSED;
	}
	r->arg = m->seq;
	r->has_req = 1;
	pthread_cond_signal(&r->req_cv);
	while (!r->has_rep && !r->closed)
		pthread_cond_wait(&r->rep_cv, &r->mu);
	int ok = r->has_rep;
	uint64_t ret = r->ret;
	r->has_rep = 0;
	pthread_mutex_unlock(&r->mu);
	if (!ok)
		return FOREIGN_ECLOSED;
	return ret == m->seq + 1 ? 0 : BH_EBADREPLY;
}

int bh_rpc_serve(bh_rpc *r, int first, uint64_t ret, uint64_t *arg) {
	pthread_mutex_lock(&r->mu);
	if (!first) {
		r->ret = ret;
		r->has_rep = 1;
		pthread_cond_signal(&r->rep_cv);
	}
	while (!r->has_req && !r->closed)
		pthread_cond_wait(&r->req_cv, &r->mu);
	int rc = -1;
	if (r->has_req) {
		*arg = r->arg;
		r->has_req = 0;
		rc = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void bh_rpc_close(bh_rpc *r) {
	pthread_mutex_lock(&r->mu);
	r->closed = 1;
	pthread_cond_broadcast(&r->req_cv);
	pthread_cond_broadcast(&r->rep_cv);
	pthread_mutex_unlock(&r->mu);
}

void bh_rpc_free(bh_rpc *r) {
	pthread_cond_destroy(&r->req_cv);
	pthread_cond_destroy(&r->rep_cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

// ---- Wake-up latency: the message carries its send time ----

typedef struct {
	uint64_t seq, ticks;
} wake_msg;

_Static_assert(sizeof(wake_msg) == sizeof(bh_msg), "wake_msg must be a bh_msg's size");

int bh_call_wake(uintptr_t target, const bh_msg *m) {
	wake_msg w = {m->seq, bh_now_ticks()};
	return foreign_post((foreign_token)target, &w, sizeof w);
}

int bh_call_wake_pipe(uintptr_t target, const bh_msg *m) {
	wake_msg w = {m->seq, bh_now_ticks()};
	return write((int)target, &w, sizeof w) == sizeof w ? 0 : -errno;
}

// ---- A fresh thread per event ----

typedef struct {
	int kind;
	uintptr_t target;
	bh_msg m;
	int rc;
} fresh_arg;

static void *fresh_main(void *p) {
	fresh_arg *a = p;
	switch (a->kind) {
	case BH_FOREIGN:
		a->rc = foreign_post((foreign_token)a->target, &a->m, sizeof a->m);
		break;
	case BH_EXPORT:
		a->rc = bhGoCall(a->m.seq) == a->m.seq + 1 ? 0 : BH_EBADREPLY;
		break;
	}
	return NULL;
}

// The first tenth of the events (at least 10) are an untimed warm-up, so
// that every kind finds the thread-stack cache and the consumer in the same
// steady state, whichever runs first.
int bh_fresh(int kind, uintptr_t target, uint64_t n, uint64_t *out) {
	if (kind != BH_NOOP && kind != BH_FOREIGN && kind != BH_EXPORT)
		return -EINVAL;
	uint64_t warm = n / 10 > 10 ? n / 10 : 10;
	for (uint64_t i = 0; i < warm + n; i++) {
		fresh_arg a = {.kind = kind, .target = target, .m = {.seq = i}};
		pthread_t th;
		uint64_t t0 = bh_now_ticks();
		int rc = pthread_create(&th, NULL, fresh_main, &a);
		if (rc != 0)
			return -rc;
		pthread_join(th, NULL);
		if (i >= warm)
			out[i - warm] = bh_now_ticks() - t0;
		if (a.rc != 0)
			return a.rc;
	}
	return 0;
}

// bh_giveup makes n foreign_calls into target, one every gap_ns, each with
// a timeout of timeout_ns into a function that takes longer: every call
// gives up with FOREIGN_ETIMEDOUT and its result buffer stays as it was (a
// late result is never written), unless the caller was descheduled until
// the result came, which it then returns. ticks[i] is how long call i
// took. It returns 0, or the first unexpected code (BH_EBADREPLY if a
// result was written).
int bh_giveup(uintptr_t target, int n, int64_t timeout_ns, int64_t gap_ns, uint64_t *ticks) {
	for (int i = 0; i < n; i++) {
		struct timespec d = {(time_t)(gap_ns / 1000000000), (long)(gap_ns % 1000000000)};
		nanosleep(&d, NULL);
		uint64_t arg = (uint64_t)i, ret = UINT64_C(0xfeedfacecafebeef);
		uint64_t t0 = bh_now_ticks();
		int rc = foreign_call((foreign_token)target, &arg, sizeof arg, &ret, sizeof ret, timeout_ns);
		ticks[i] = bh_now_ticks() - t0;
		// A caller descheduled past the function's end finds the result
		// there before it gives up: answered, and it must be the right one.
		if (rc == 0 && ret == arg + 1)
			continue;
		if (rc != FOREIGN_ETIMEDOUT)
			return rc == 0 ? BH_EBADREPLY : rc;
		if (ret != UINT64_C(0xfeedfacecafebeef))
			return BH_EBADREPLY;
	}
	return 0;
}
