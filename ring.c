// ring.c: the post path (async-signal-safe) and the queue lifecycle.
// The protocol is described in ring.h; read it first.

#define _GNU_SOURCE
#include "foreign.h"
#include "ring.h"
#include "wait.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free to be async-signal-safe");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free to be async-signal-safe");
_Static_assert(sizeof(fq_ctl) == 6 * FQ_LINE, "control block layout");
_Static_assert(FQ_GEN_SHIFT + FQ_GEN_BITS == 64, "tail word layout");

// The table of control blocks. Chunks are allocated on first use and never
// freed, so any token a producer holds points at readable memory.
static _Atomic(fq_ctl *) fq_table[FQ_CHUNKS];

// Free blocks, reused oldest first so a block's generation moves as slowly
// as possible. Guarded by fq_mu; only Go's open/free take it.
static pthread_mutex_t fq_mu = PTHREAD_MUTEX_INITIALIZER;
static uint16_t fq_free_list[FQ_MAX_QUEUES];
static uint32_t fq_free_head, fq_free_len, fq_fresh;

fq_ctl *fq_lookup(uintptr_t token) {
	uint64_t t = (uint64_t)token;
	if ((t >> FQ_IDX_BITS) == 0 || (t >> (FQ_IDX_BITS + FQ_GEN_BITS)) != 0)
		return NULL;
	uint32_t idx = (uint32_t)(t & (FQ_MAX_QUEUES - 1));
	fq_ctl *chunk = atomic_load_explicit(&fq_table[idx >> FQ_CHUNK_BITS], memory_order_acquire);
	if (chunk == NULL)
		return NULL;
	return &chunk[idx & (FQ_CHUNK_LEN - 1)];
}

void *fq_cells(fq_ctl *c) { return (void *)atomic_load_explicit(&c->ring, memory_order_relaxed); }

int fq_wake(fq_ctl *c) {
	uint32_t expect = FQ_PARK_PARKED;
	if (!atomic_compare_exchange_strong_explicit(&c->park, &expect, FQ_PARK_WAKING,
	                                             memory_order_seq_cst, memory_order_seq_cst))
		return 0;
	// While park is WAKING, teardown cannot close the fd (it waits for us).
	int fd = (int)atomic_load_explicit(&c->wake_fd, memory_order_relaxed);
	int saved = errno; // a signal handler must not disturb errno
	if (atomic_load_explicit(&c->wake_kind, memory_order_relaxed) == FQ_WAKE_EVENTFD) {
		uint64_t one = 1;
		(void)!write(fd, &one, sizeof one);
	} else {
		char one = 1;
		(void)!write(fd, &one, 1); // EAGAIN: the pipe is full, so already readable
	}
	errno = saved;
	atomic_fetch_add_explicit(&c->wakeups, 1, memory_order_relaxed);
	atomic_store_explicit(&c->park, FQ_PARK_RUNNING, memory_order_release);
	return 1;
}

// claim is the claim step of the protocol (ring.h). It validates the
// token and the length against the generation it claims in, and on success
// the caller owns cell[*pos & *mask]. fresh_head makes it read the
// consumer's head instead of the cache (a waiter's retry must).
static int claim(fq_ctl *c, uint64_t tgen, int mode, size_t len, int count_full, int fresh_head,
                 uint64_t *pos_out, uint64_t *mask_out) {
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	for (;;) {
		uint64_t gen = fq_tail_gen(tail);
		if (gen != tgen)
			return fq_stale_code(tgen, gen);
		if (tail & FQ_CLOSED) {
			if (count_full) // counts each refused post once, not a waiter's retries
				atomic_fetch_add_explicit(&c->rejected_closed, 1, memory_order_relaxed);
			return FOREIGN_ECLOSED;
		}
		// These fields belong to generation gen: they were written before the
		// tail that our acquire load saw, and cannot change before a close.
		uint32_t kind = atomic_load_explicit(&c->kind, memory_order_relaxed);
		if (mode == FQ_MODE_POST) {
			if (kind != FQ_KIND_QUEUE || len != atomic_load_explicit(&c->msg_size, memory_order_relaxed))
				return FOREIGN_EINVAL;
		} else if (kind != FQ_KIND_FUNC || len != atomic_load_explicit(&c->call_arg, memory_order_relaxed)) {
			return FOREIGN_EINVAL;
		}
		uint64_t mask = atomic_load_explicit(&c->mask, memory_order_relaxed);
		uint64_t pos = tail & FQ_POS_MASK;
		// The cache is tagged with its generation: a producer of an older
		// generation may store into it late, after the block was reused; such
		// a value is ignored (treated as full, so the real head is read).
		uint64_t hc = fresh_head ? 0 : atomic_load_explicit(&c->head_cache, memory_order_acquire);
		int64_t depth = (fresh_head || fq_tail_gen(hc) != tgen) ? (int64_t)mask + 1 : fq_diff(pos, hc & FQ_POS_MASK);
		if (depth > (int64_t)mask) {
			// The cache says full; ask the consumer. This load pairs with the
			// consumer's store of head: its reads of those cells are done.
			uint64_t head = atomic_load_explicit(&c->head, memory_order_seq_cst);
			depth = fq_diff(pos, head);
			if (depth > (int64_t)mask) {
				if (count_full)
					atomic_fetch_add_explicit(&c->rejected_full, 1, memory_order_relaxed);
				return FOREIGN_EFULL;
			}
			atomic_store_explicit(&c->head_cache, (tgen << FQ_GEN_SHIFT) | head, memory_order_release);
		}
		if (depth < 0) { // our tail is older than the consumer's head
			tail = atomic_load_explicit(&c->tail, memory_order_acquire);
			continue;
		}
		uint64_t next = (tail & ~FQ_POS_MASK) | ((pos + 1) & FQ_POS_MASK);
		// seq_cst: one side of the park/wake Dekker pair (see ring.h).
		if (atomic_compare_exchange_weak_explicit(&c->tail, &tail, next, memory_order_seq_cst,
		                                          memory_order_acquire)) {
			*pos_out = pos;
			*mask_out = mask;
			return 0;
		}
	}
}

// publish copies the message into the claimed cell and passes the cell to
// the consumer, waking it if it parked.
static void publish(fq_ctl *c, uint64_t pos, uint64_t mask, int mode, uint64_t hdr, const void *msg,
                    size_t len) {
	uintptr_t ring = atomic_load_explicit(&c->ring, memory_order_relaxed);
	uint64_t cs = atomic_load_explicit(&c->cell_size, memory_order_relaxed);
	fq_cell *cell = (fq_cell *)(ring + (uintptr_t)((pos & mask) * cs));
	unsigned char *dst = (unsigned char *)(cell + 1);
	if (mode == FQ_MODE_CALL) {
		__builtin_memcpy(dst, &hdr, sizeof hdr);
		dst += sizeof hdr;
	}
	if (len > 0)
		__builtin_memcpy(dst, msg, len);
	// Passes ownership of the cell to the consumer.
	atomic_store_explicit(&cell->seq, (pos + 1) & FQ_POS_MASK, memory_order_release);
	fq_notify(c);
}

// fq_notify runs after a producer's seq_cst claim (or a trigger's seq_cst
// exchange): it wakes the handle's parked consumer, or puts the handle on
// its Loop's ready queue if it is not there yet (ring.h, "Loops").
void fq_notify(fq_ctl *c) {
	uint64_t loop = atomic_load_explicit(&c->loop_token, memory_order_relaxed);
	if (loop == 0) {
		if (atomic_load_explicit(&c->park, memory_order_seq_cst) == FQ_PARK_PARKED)
			fq_wake(c);
		return;
	}
	uint32_t idle = 0;
	if (atomic_load_explicit(&c->scheduled, memory_order_seq_cst) == 0 &&
	    atomic_compare_exchange_strong_explicit(&c->scheduled, &idle, 1, memory_order_seq_cst,
	                                            memory_order_relaxed)) {
		uint64_t id = atomic_load_explicit(&c->handle_id, memory_order_relaxed);
		// Cannot be full: the ready queue holds every handle at most once.
		// It fails only if the Loop is gone, and then nobody is listening.
		(void)fq_post((foreign_token)loop, FQ_MODE_POST, 0, &id, sizeof id, FQ_NO_WAIT);
	}
}

static void leave_waiters(void *p) {
	fq_ctl *c = p;
	atomic_fetch_sub_explicit(&c->waiters, 1, memory_order_relaxed);
}

// wait_room is one round of waiting for room; see "Waiting" in ring.h. It
// returns claim's code, or FOREIGN_ETIMEDOUT.
static int wait_room(fq_ctl *c, uint64_t tgen, int mode, size_t len, int64_t deadline, uint64_t *pos,
                     uint64_t *mask) {
	volatile int rc; // set after the cleanup handler's setjmp
	atomic_fetch_add_explicit(&c->waiters, 1, memory_order_seq_cst);
	// A waiter cancelled or exiting in fq_wait32 still leaves waiters.
	pthread_cleanup_push(leave_waiters, c);
	uint32_t seen = atomic_load_explicit(&c->space_seq, memory_order_seq_cst);
	rc = claim(c, tgen, mode, len, 0, 1, pos, mask);
	if (rc == FOREIGN_EFULL) {
		if (deadline >= 0 && fq_now_ns() >= deadline)
			rc = FOREIGN_ETIMEDOUT;
		else if (fq_wait32(&c->space_seq, seen, deadline) == 0)
			rc = claim(c, tgen, mode, len, 0, 1, pos, mask);
	}
	pthread_cleanup_pop(1);
	return rc;
}

int fq_post(foreign_token t, int mode, uint64_t hdr, const void *msg, size_t len, int64_t deadline) {
	fq_ctl *c = fq_lookup(t);
	if (c == NULL)
		return FOREIGN_EINVAL;
	if (mode == FQ_MODE_POST && len == 0 &&
	    atomic_load_explicit(&c->kind, memory_order_relaxed) == FQ_KIND_NOTIFIER)
		return fq_trigger(t, FQ_KIND_NOTIFIER, 0); // a notifier's trigger: no payload
	if (msg == NULL && len > 0) // an empty message (a Queue[struct{}]) needs no buffer
		return FOREIGN_EINVAL;
	uint64_t tgen = fq_token_gen(t);
	uint64_t pos, mask;
	int rc = claim(c, tgen, mode, len, deadline == FQ_NO_WAIT, 0, &pos, &mask);
	while (rc == FOREIGN_EFULL && deadline != FQ_NO_WAIT) {
		// The consumer cannot make room while we wait on its own thread
		// (workers aside: their consumer is another goroutine).
		if (fq_served_here(t, c) && atomic_load_explicit(&c->workers, memory_order_relaxed) <= 1)
			return FOREIGN_EDEADLK;
		rc = wait_room(c, tgen, mode, len, deadline, &pos, &mask);
		if (rc == FOREIGN_ECLOSED)
			atomic_fetch_add_explicit(&c->rejected_closed, 1, memory_order_relaxed);
		if (rc == FOREIGN_ETIMEDOUT) {
			atomic_fetch_add_explicit(&c->timed_out, 1, memory_order_relaxed);
			return rc;
		}
	}
	if (rc != 0)
		return rc;
	publish(c, pos, mask, mode, hdr, msg, len);
	return 0;
}

int foreign_post(foreign_token t, const void *msg, size_t len) {
	return fq_post(t, FQ_MODE_POST, 0, msg, len, FQ_NO_WAIT);
}

int foreign_post_wait(foreign_token t, const void *msg, size_t len, int64_t timeout_ns) {
	int64_t deadline = fq_deadline(timeout_ns);
	return fq_post(t, FQ_MODE_POST, 0, msg, len, deadline == FQ_NO_WAIT ? -1 : deadline);
}

void fq_space(fq_ctl *c) {
	atomic_fetch_add_explicit(&c->space_seq, 1, memory_order_seq_cst);
	fq_wake32(&c->space_seq);
}

const char *foreign_strerror(int code) {
	switch (code) {
	case 0: return "success";
	case FOREIGN_EINVAL: return "invalid argument";
	case FOREIGN_ECLOSED: return "closed";
	case FOREIGN_EFULL: return "queue full";
	case FOREIGN_ETIMEDOUT: return "timed out";
	case FOREIGN_EDEADLK: return "would deadlock";
	case FOREIGN_EPANIC: return "handler panicked";
	}
	return "unknown error";
}

static int open_wake(int kind, int64_t *wfd, int64_t *rfd) {
#ifdef __linux__
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

// fq_open takes a free control block, allocates its ring and wake fd, and
// publishes it with a new generation. It returns 0 or a negative errno.
int fq_open(uint64_t msg_size, uint64_t capacity, uint64_t start, int wake_kind,
            int64_t call_arg, int64_t call_ret, uintptr_t *token, fq_ctl **out) {
	fq_open_args a = {
		.msg_size = msg_size, .capacity = capacity, .start = start, .wake_kind = wake_kind,
		.kind = call_ret < 0 ? FQ_KIND_QUEUE : FQ_KIND_FUNC, .call_arg = call_arg, .call_ret = call_ret,
	};
	return fq_open_handle(&a, token, out);
}

static void close_pair(int64_t r, int64_t w) {
	if (r >= 0)
		close((int)r);
	if (w >= 0 && w != r)
		close((int)w);
}

int fq_open_handle(const fq_open_args *a, uintptr_t *token, fq_ctl **out) {
	uint64_t msg_size = a->msg_size, capacity = a->capacity, start = a->start;
	int wake_kind = a->wake_kind;
	int64_t call_arg = a->call_arg, call_ret = a->call_ret;
	int sigkind = a->kind == FQ_KIND_NOTIFIER || a->kind == FQ_KIND_INTERRUPT;
	if (a->kind < FQ_KIND_QUEUE || a->kind > FQ_KIND_INTERRUPT)
		return -EINVAL;
	if (a->kind == FQ_KIND_FUNC &&
	    (call_ret < 0 || call_ret > FQ_MAX_RET || call_arg < 0 || (uint64_t)call_arg + 8 > msg_size))
		return -EINVAL;
	if (sigkind ? (msg_size != 0 || capacity != 0)
	            : ((a->kind == FQ_KIND_FUNC && msg_size == 0) || msg_size > FQ_MAX_MSG || capacity == 0 ||
	               capacity > FQ_MAX_CAPACITY ||
	               (capacity & (capacity - 1)) != 0))
		return -EINVAL;
#ifndef __linux__
	wake_kind = FQ_WAKE_PIPE;
#endif
	uint64_t cs = sizeof(fq_cell) + ((msg_size + 7) & ~(uint64_t)7);
	void *ring = NULL;
	start &= FQ_POS_MASK;
	if (!sigkind) {
		if (posix_memalign(&ring, FQ_LINE, (size_t)(cs * capacity)) != 0)
			return -ENOMEM;
		for (uint64_t k = 0; k < capacity; k++) {
			uint64_t p = (start + k) & FQ_POS_MASK;
			fq_cell *cell = (fq_cell *)((char *)ring + (p & (capacity - 1)) * cs);
			atomic_init(&cell->seq, p); // ready when seq == p+1
		}
	}
	int64_t wfd = -1, rfd = -1, swfd = -1, srfd = -1;
	int err = 0;
	if (a->loop_token == 0)
		err = open_wake(wake_kind, &wfd, &rfd);
	if (err == 0 && a->with_fd)
		err = open_wake(wake_kind, &swfd, &srfd);
	if (err != 0) {
		free(ring);
		close_pair(rfd, wfd);
		return err;
	}

	pthread_mutex_lock(&fq_mu);
	uint32_t idx;
	if (fq_free_len > 0) {
		idx = fq_free_list[fq_free_head];
		fq_free_head = (fq_free_head + 1) % FQ_MAX_QUEUES;
		fq_free_len--;
	} else if (fq_fresh < FQ_MAX_QUEUES) {
		idx = fq_fresh++;
	} else {
		pthread_mutex_unlock(&fq_mu);
		free(ring);
		close_pair(rfd, wfd);
		close_pair(srfd, swfd);
		return -EMFILE;
	}
	_Atomic(fq_ctl *) *slot = &fq_table[idx >> FQ_CHUNK_BITS];
	fq_ctl *chunk = atomic_load_explicit(slot, memory_order_relaxed);
	if (chunk == NULL) {
		void *mem = NULL;
		if (posix_memalign(&mem, FQ_LINE, FQ_CHUNK_LEN * sizeof(fq_ctl)) != 0) {
			// Give the index back; it was never published.
			fq_fresh--;
			pthread_mutex_unlock(&fq_mu);
			free(ring);
			close_pair(rfd, wfd);
			close_pair(srfd, swfd);
			return -ENOMEM;
		}
		memset(mem, 0, FQ_CHUNK_LEN * sizeof(fq_ctl));
		chunk = mem;
		atomic_store_explicit(slot, chunk, memory_order_release);
	}
	fq_ctl *c = &chunk[idx & (FQ_CHUNK_LEN - 1)];
	uint64_t gen = fq_tail_gen(atomic_load_explicit(&c->tail, memory_order_relaxed)) + 1; // < FQ_GEN_MASK+1: see fq_free
	atomic_store_explicit(&c->ring, (uintptr_t)ring, memory_order_relaxed);
	atomic_store_explicit(&c->mask, capacity - 1, memory_order_relaxed);
	atomic_store_explicit(&c->cell_size, cs, memory_order_relaxed);
	atomic_store_explicit(&c->msg_size, msg_size, memory_order_relaxed);
	atomic_store_explicit(&c->start, start, memory_order_relaxed);
	atomic_store_explicit(&c->wake_fd, wfd, memory_order_relaxed);
	atomic_store_explicit(&c->read_fd, rfd, memory_order_relaxed);
	atomic_store_explicit(&c->wake_kind, (rfd == wfd && srfd == swfd) ? FQ_WAKE_EVENTFD : FQ_WAKE_PIPE,
	                      memory_order_relaxed);
	atomic_store_explicit(&c->kind, (uint32_t)a->kind, memory_order_relaxed);
	atomic_store_explicit(&c->scheduled, 0, memory_order_relaxed);
	atomic_store_explicit(&c->loop_token, a->loop_token, memory_order_relaxed);
	atomic_store_explicit(&c->handle_id, a->handle_id, memory_order_relaxed);
	atomic_store_explicit(&c->sig, gen << FQ_GEN_SHIFT, memory_order_relaxed);
	atomic_store_explicit(&c->sig_fd, srfd, memory_order_relaxed);
	atomic_store_explicit(&c->sig_wfd, swfd, memory_order_relaxed);
	atomic_store_explicit(&c->refs, gen << FQ_GEN_SHIFT | FQ_REFS_GO, memory_order_relaxed); // see handle.c
	// sig_inflight carries over, like waiters: a stale trigger may still
	// be on its way out and its decrement must balance.
	atomic_store_explicit(&c->head, start, memory_order_relaxed);
	atomic_store_explicit(&c->head_cache, (gen << FQ_GEN_SHIFT) | start, memory_order_relaxed);
	atomic_store_explicit(&c->high_water, 0, memory_order_relaxed);
	atomic_store_explicit(&c->rejected_full, 0, memory_order_relaxed);
	atomic_store_explicit(&c->rejected_closed, 0, memory_order_relaxed);
	atomic_store_explicit(&c->wakeups, 0, memory_order_relaxed);
	atomic_store_explicit(&c->park, FQ_PARK_RUNNING, memory_order_relaxed);
	atomic_store_explicit(&c->call_ret, a->kind == FQ_KIND_FUNC ? (uint64_t)call_ret + 1 : 0, memory_order_relaxed);
	atomic_store_explicit(&c->call_arg, a->kind == FQ_KIND_FUNC ? (uint64_t)call_arg : 0, memory_order_relaxed);
	atomic_store_explicit(&c->timed_out, 0, memory_order_relaxed);
	atomic_store_explicit(&c->workers, a->workers > 1 ? a->workers : 1, memory_order_relaxed);
	// nested carries over, like waiters: a nested caller of the previous
	// generation may still be leaving, and its decrement must balance.
	// space_seq and waiters carry over: a waiter of the previous generation
	// may still be leaving, and its decrement must balance.
	// Publishes everything above to producers whose acquire load sees gen.
	atomic_store_explicit(&c->tail, (gen << FQ_GEN_SHIFT) | start, memory_order_release);
	pthread_mutex_unlock(&fq_mu);

	*token = (uintptr_t)((gen << FQ_IDX_BITS) | idx);
	*out = c;
	return 0;
}

int fq_set_closed(fq_ctl *c, uint64_t gen, uint64_t *final) {
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	// seq_cst: a consumer that parks after this sees closed (see ring.h).
	for (;;) {
		if (fq_tail_gen(tail) != gen)
			return fq_stale_code(gen, fq_tail_gen(tail));
		if ((tail & FQ_CLOSED) ||
		    atomic_compare_exchange_weak_explicit(&c->tail, &tail, tail | FQ_CLOSED, memory_order_seq_cst,
		                                          memory_order_acquire))
			break;
	}
	// Signals: closed in the sig word too, so no trigger is accepted after
	// the close (ring.h, "Signals"). Only a word of our generation is
	// changed; the block cannot be reused before this handle is freed.
	uint64_t sig = atomic_load_explicit(&c->sig, memory_order_acquire);
	while ((sig >> FQ_GEN_SHIFT) == gen && !(sig & FQ_SIG_CLOSED) &&
	       !atomic_compare_exchange_weak_explicit(&c->sig, &sig, sig | FQ_SIG_CLOSED, memory_order_seq_cst,
	                                              memory_order_acquire)) {
	}
	if (final != NULL)
		*final = tail & FQ_POS_MASK;
	return 0;
}

// close_gen is Close: closed, then every waiter and the consumer woken.
static int close_gen(fq_ctl *c, uint64_t gen, uint64_t *final) {
	int rc = fq_set_closed(c, gen, final);
	if (rc != 0)
		return rc;
	// Wake every producer waiting for room: they will see the closed bit.
	fq_space(c);
	// And the consumer, if it parked (or its Loop). fq_notify's seq_cst load
	// after the seq_cst CAS above is the closer's side of the Dekker pair.
	fq_notify(c);
	return 0;
}

uint64_t fq_close(fq_ctl *c) {
	uint64_t final = 0;
	close_gen(c, fq_tail_gen(atomic_load_explicit(&c->tail, memory_order_acquire)), &final);
	return final;
}

int fq_close_token(foreign_token t, uint64_t *final) {
	fq_ctl *c = fq_lookup(t);
	if (c == NULL)
		return FOREIGN_EINVAL;
	return close_gen(c, fq_token_gen(t), final);
}

int fq_kick(foreign_token t) {
	fq_ctl *c = fq_lookup(t);
	if (c == NULL)
		return FOREIGN_EINVAL;
	uint64_t gen = fq_tail_gen(atomic_load_explicit(&c->tail, memory_order_acquire));
	if (gen != fq_token_gen(t))
		return fq_stale_code(fq_token_gen(t), gen);
	fq_notify(c); // at worst a spurious wake-up, if the block moves on now
	return 0;
}

void fq_free(uintptr_t token) {
	fq_ctl *c = fq_lookup(token);
	if (c == NULL)
		return;
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	if (fq_tail_gen(tail) != fq_token_gen(token) || !(tail & FQ_CLOSED) ||
	    atomic_load_explicit(&c->park, memory_order_acquire) == FQ_PARK_DEAD)
		return; // not ours, not closed, or freed already
	// Wait out a producer that is writing a wake-up, then forbid new ones.
	for (;;) {
		uint32_t p = atomic_load_explicit(&c->park, memory_order_acquire);
		if (p == FQ_PARK_WAKING) {
			sched_yield();
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(&c->park, &p, FQ_PARK_DEAD,
		                                          memory_order_acq_rel, memory_order_relaxed))
			break;
	}
	// The read end (the same fd for an eventfd) belongs to the Go side.
	int64_t wfd = atomic_load_explicit(&c->wake_fd, memory_order_relaxed);
	if (wfd >= 0 && wfd != atomic_load_explicit(&c->read_fd, memory_order_relaxed))
		close((int)wfd);
	// A trigger that passed its closed check before the close may still be
	// about to write sig_fd: wait for it before closing the fd.
	while (atomic_load_explicit(&c->sig_inflight, memory_order_acquire) != 0)
		sched_yield();
	close_pair(atomic_load_explicit(&c->sig_fd, memory_order_relaxed),
	           atomic_load_explicit(&c->sig_wfd, memory_order_relaxed));
	atomic_store_explicit(&c->sig_fd, -1, memory_order_relaxed);
	atomic_store_explicit(&c->sig_wfd, -1, memory_order_relaxed);
	free((void *)atomic_load_explicit(&c->ring, memory_order_relaxed));
	atomic_store_explicit(&c->ring, 0, memory_order_relaxed);

	// A block whose generation is the last one is retired, not reused, so
	// a generation never comes round again and a stale token can never
	// claim. That costs one control block per 2^19 - 1 queues.
	if (fq_tail_gen(tail) == FQ_GEN_MASK)
		return;
	pthread_mutex_lock(&fq_mu);
	uint32_t idx = (uint32_t)(token & (FQ_MAX_QUEUES - 1));
	fq_free_list[(fq_free_head + fq_free_len) % FQ_MAX_QUEUES] = (uint16_t)idx;
	fq_free_len++;
	pthread_mutex_unlock(&fq_mu);
}

// A C-only consumer: used by the sanitizer tests and as the benchmark floor.
// It follows the same protocol as the Go consumer in ring.go.
int fq_c_recv(fq_ctl *c, void *msg) {
	uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed); // ours
	uint64_t mask = atomic_load_explicit(&c->mask, memory_order_relaxed);
	uint64_t cs = atomic_load_explicit(&c->cell_size, memory_order_relaxed);
	uintptr_t ring = atomic_load_explicit(&c->ring, memory_order_relaxed);
	fq_cell *cell = (fq_cell *)(ring + (uintptr_t)((h & mask) * cs));
	if (atomic_load_explicit(&cell->seq, memory_order_acquire) != ((h + 1) & FQ_POS_MASK)) {
		uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);
		if ((t & FQ_CLOSED) && (t & FQ_POS_MASK) == h)
			return -1;
		return 0;
	}
	memcpy(msg, cell + 1, atomic_load_explicit(&c->msg_size, memory_order_relaxed));
	// Passes the cell back to producers. seq_cst, not release: the caller's
	// next step is to load waiters, and the two are the consumer's side of
	// the waiting Dekker pair (ring.h); a release store could still sit in
	// the store buffer when waiters is read, and a waiter would sleep on an
	// empty ring.
	atomic_store_explicit(&c->head, (h + 1) & FQ_POS_MASK, memory_order_seq_cst);
	return 1;
}

int fq_c_park(fq_ctl *c) {
	uint32_t p = FQ_PARK_RUNNING;
	if (!atomic_compare_exchange_strong_explicit(&c->park, &p, FQ_PARK_PARKED,
	                                             memory_order_seq_cst, memory_order_relaxed))
		return 0; // a wake-up is being written; just look again
	uint64_t t = atomic_load_explicit(&c->tail, memory_order_seq_cst);
	if ((t & FQ_CLOSED) || (t & FQ_POS_MASK) != atomic_load_explicit(&c->head, memory_order_relaxed)) {
		p = FQ_PARK_PARKED;
		atomic_compare_exchange_strong_explicit(&c->park, &p, FQ_PARK_RUNNING,
		                                        memory_order_seq_cst, memory_order_relaxed);
		return 0;
	}
	struct pollfd pfd = {.fd = (int)atomic_load_explicit(&c->read_fd, memory_order_relaxed), .events = POLLIN};
	while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
	}
	char buf[64];
	(void)!read(pfd.fd, buf, sizeof buf);
	p = FQ_PARK_PARKED;
	atomic_compare_exchange_strong_explicit(&c->park, &p, FQ_PARK_RUNNING,
	                                        memory_order_seq_cst, memory_order_relaxed);
	return 0;
}
