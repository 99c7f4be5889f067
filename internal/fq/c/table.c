// table.c: the table of control blocks and every handle's life in it:
// open, close, free. The protocol ("Table", "Tail word") is in block.h.
#include "fq.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

// The table of control blocks. Chunks are allocated on first use and never
// freed, so any token a producer holds points at readable memory.
static _Atomic(fq_ctl *) fq_table[FQ_CHUNKS];

// Free blocks, reused oldest first so a block's generation moves as slowly
// as possible. Guarded by fq_mu; only Go's open/free take it.
static pthread_mutex_t fq_mu = PTHREAD_MUTEX_INITIALIZER;
static uint16_t fq_free_list[FQ_MAX_QUEUES];
static uint32_t fq_free_head, fq_free_len, fq_fresh;

FQ_FN fq_ctl *fq_lookup(uintptr_t token) {
	uint64_t t = (uint64_t)token;
	if ((t >> FQ_IDX_BITS) == 0 || (t >> (FQ_IDX_BITS + FQ_GEN_BITS)) != 0)
		return NULL;
	uint32_t idx = (uint32_t)(t & (FQ_MAX_QUEUES - 1));
	fq_ctl *chunk = atomic_load_explicit(&fq_table[idx >> FQ_CHUNK_BITS], memory_order_acquire);
	if (chunk == NULL)
		return NULL;
	return &chunk[idx & (FQ_CHUNK_LEN - 1)];
}

FQ_FN void *fq_cells(fq_ctl *c) { return (void *)atomic_load_explicit(&c->ring, memory_order_relaxed); }

// fq_open takes a free control block, allocates its ring and wake fds, and
// publishes it with a new generation. It returns 0 or a negative errno.
FQ_FN int fq_open(const fq_open_args *a, uintptr_t *token, fq_ctl **out) {
	fq_watch_fork();
	uint64_t msg_size = a->msg_size, capacity = a->capacity, start = a->start;
	int wake_kind = a->wake_kind;
	int64_t call_arg = a->call_arg, call_ret = a->call_ret;
	int sigkind = a->kind == FQ_KIND_NOTIFIER || a->kind == FQ_KIND_INTERRUPT;
	if (a->kind < FQ_KIND_QUEUE || a->kind > FQ_KIND_INTERRUPT || (a->bytes && sigkind))
		return -EINVAL;
	if (a->kind == FQ_KIND_FUNC &&
	    (call_ret < 0 || call_ret > FQ_MAX_RET || call_arg < 0 || (uint64_t)call_arg + 8 > msg_size))
		return -EINVAL;
	// A byte ring: capacity is its size in bytes, at least two of its
	// largest records (block.h, "Byte rings"), and positions are 8-aligned.
	uint64_t stamp = (a->flags & FQ_FLAG_STAMP) ? FQ_STAMP : 0;
	uint64_t cs = a->bytes ? 0 : sizeof(fq_cell) + stamp + ((msg_size + 7) & ~(uint64_t)7);
	if (a->flags & ~FQ_FLAG_STAMP)
		return -EINVAL;
	if (sigkind ? (msg_size != 0 || capacity != 0)
	            : a->bytes ? (msg_size > FQ_MAX_BYTES_MSG || capacity > FQ_MAX_RING ||
	                          capacity < 2 * (fq_rec_size(msg_size) + stamp) || (capacity & (capacity - 1)) != 0)
	                       : ((a->kind == FQ_KIND_FUNC && msg_size == 0) || msg_size > FQ_MAX_MSG || capacity == 0 ||
	                          capacity > FQ_MAX_CAPACITY || cs * capacity > FQ_MAX_RING ||
	                          (capacity & (capacity - 1)) != 0))
		return -EINVAL;
#if !defined(__linux__) || defined(FQ_PORTABLE)
	wake_kind = FQ_WAKE_PIPE;
#endif
	void *ring = NULL;
	start &= FQ_POS_MASK;
	if (a->bytes) {
		start &= ~(uint64_t)7;
		// The data, then the header array, zeroed: no record is live
		// (block.h, "Byte rings"). The data needs no setting.
		if (posix_memalign(&ring, FQ_LINE, (size_t)(capacity + capacity / 2)) != 0)
			return -ENOMEM;
		memset((char *)ring + capacity, 0, (size_t)(capacity / 2));
	} else if (!sigkind) {
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
		err = fq_open_wake(wake_kind, &wfd, &rfd);
	if (err == 0 && a->with_fd)
		err = fq_open_wake(wake_kind, &swfd, &srfd);
	if (err != 0) {
		free(ring);
		fq_close_pair(rfd, wfd);
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
		fq_close_pair(rfd, wfd);
		fq_close_pair(srfd, swfd);
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
			fq_close_pair(rfd, wfd);
			fq_close_pair(srfd, swfd);
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
	atomic_store_explicit(&c->scheduled, (uint32_t)(gen << 1), memory_order_relaxed); // see "Loops"
	atomic_store_explicit(&c->loop_token, a->loop_token, memory_order_relaxed);
	atomic_store_explicit(&c->handle_id, a->handle_id, memory_order_relaxed);
	atomic_store_explicit(&c->sig, gen << FQ_GEN_SHIFT, memory_order_relaxed);
	atomic_store_explicit(&c->sig_fd, srfd, memory_order_relaxed);
	atomic_store_explicit(&c->sig_wfd, swfd, memory_order_relaxed);
	atomic_store_explicit(&c->refs, gen << FQ_GEN_SHIFT | FQ_REFS_GO, memory_order_relaxed); // see refs.c
	// sig_inflight carries over, like waiters: a stale trigger may still
	// be on its way out and its decrement must balance.
	atomic_store_explicit(&c->head, start, memory_order_relaxed);
	atomic_store_explicit(&c->head_cache, (gen << FQ_GEN_SHIFT) | start, memory_order_relaxed);
	atomic_store_explicit(&c->reserve, gen << FQ_GEN_SHIFT, memory_order_relaxed);
	atomic_store_explicit(&c->msgs, 0, memory_order_relaxed);
	atomic_store_explicit(&c->bytes, 0, memory_order_relaxed);
	atomic_store_explicit(&c->high_water, 0, memory_order_relaxed);
	atomic_store_explicit(&c->rejected_full, 0, memory_order_relaxed);
	atomic_store_explicit(&c->rejected_closed, 0, memory_order_relaxed);
	atomic_store_explicit(&c->wakeups, 0, memory_order_relaxed);
	atomic_store_explicit(&c->park, FQ_PARK_RUNNING, memory_order_relaxed);
	atomic_store_explicit(&c->call_ret, a->kind == FQ_KIND_FUNC ? (uint32_t)call_ret + 1 : 0, memory_order_relaxed);
	atomic_store_explicit(&c->flags, a->flags, memory_order_relaxed);
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

FQ_FN int fq_set_closed(fq_ctl *c, uint64_t gen, uint64_t *final) {
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	// seq_cst: a consumer that parks after this sees closed (see block.h).
	for (;;) {
		if (fq_tail_gen(tail) != gen)
			return fq_stale_code(gen, fq_tail_gen(tail));
		if ((tail & FQ_CLOSED) ||
		    atomic_compare_exchange_weak_explicit(&c->tail, &tail, tail | FQ_CLOSED, memory_order_seq_cst,
		                                          memory_order_acquire))
			break;
	}
	// Signals: closed in the sig word too, so no trigger is accepted after
	// the close (block.h, "Signals"). Only a word of our generation is
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
	fq_notify(c, gen);
	return 0;
}

FQ_FN int fq_close_token(foreign_token t, uint64_t *final) {
	fq_ctl *c = fq_lookup(t);
	if (c == NULL)
		return FOREIGN_EINVAL;
	return close_gen(c, fq_token_gen(t), final);
}

FQ_FN void fq_free(uintptr_t token) {
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
	fq_close_pair(atomic_load_explicit(&c->sig_fd, memory_order_relaxed),
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
