// call.c: foreign_call, a C thread calling a Go function and waiting for its
// result, and the completion of a call. The protocol ("Calls") is in
// block.h; the Go side is call.go beside this file.
#include "fq.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

// Slot states, the low 8 bits of the state word; the high 24 bits are the
// call's generation, bumped for every call the slot carries.
enum { SLOT_IDLE, SLOT_PENDING, SLOT_SLEEPING, SLOT_COMPLETING, SLOT_DONE, SLOT_ABANDONED };
#define SLOT_GEN_MASK 0xFFFFFFu
// A call's header: the slot's index, then the call's whole generation.
#define HDR_IDX_BITS 24
#define HDR_GEN_MASK ((UINT64_C(1) << (63 - HDR_IDX_BITS)) - 1) // bit 63 is Go's

typedef struct fq_slot {
	_Atomic uint32_t state; // [gen:24][state:8]; the futex word
	_Atomic uint64_t gen;   // the current call's whole generation (block.h, "Calls")
	int32_t rc;             // the call's result code, written while COMPLETING
	uint32_t idx;           // this slot's index in the table, set once
	struct fq_slot *next;   // free list, under slot_mu
	// The caller's result buffer, set before the call is posted: the
	// consumer writes the result straight into it while COMPLETING, when
	// the caller cannot have taken it back (block.h, "Calls").
	void *ret;
	size_t retcap;
	size_t retlen; // the result's length, written while COMPLETING
} fq_slot;

// Slots live in chunks that are never freed, so a late completion always
// lands in memory that exists; its CAS on the generation keeps it out of a
// call it does not belong to.
#define SLOT_CHUNK_BITS 8
#define SLOT_CHUNK_LEN (1u << SLOT_CHUNK_BITS)
#define SLOT_CHUNKS 1024u
static fq_slot *_Atomic slot_chunks[SLOT_CHUNKS];
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;
static fq_slot *slot_free;
static uint32_t slot_fresh;
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static _Thread_local fq_slot *my_slot;

static fq_slot *slot_at(uint32_t idx) {
	if (idx >= SLOT_CHUNKS * SLOT_CHUNK_LEN)
		return NULL;
	fq_slot *chunk = atomic_load_explicit(&slot_chunks[idx >> SLOT_CHUNK_BITS], memory_order_acquire);
	return chunk == NULL ? NULL : &chunk[idx & (SLOT_CHUNK_LEN - 1)];
}

// A thread's slot goes back to the pool when the thread exits. An abandoned
// call may still complete into it later; the next owner's calls have new
// generations, so that completion fails its CAS and is dropped.
static void slot_release(void *p) {
	fq_slot *s = p;
	// The thread is exiting, but a destructor of a later key may still call
	// foreign_call: it must take a fresh slot, not this one, which another
	// thread may own by then.
	my_slot = NULL;
	pthread_mutex_lock(&slot_mu);
	s->next = slot_free;
	slot_free = s;
	pthread_mutex_unlock(&slot_mu);
}

static void slot_init(void) { pthread_key_create(&slot_key, slot_release); }

static fq_slot *get_slot(void) {
	if (my_slot != NULL)
		return my_slot;
	pthread_once(&slot_once, slot_init);
	pthread_mutex_lock(&slot_mu);
	fq_slot *s = slot_free;
	if (s != NULL) {
		slot_free = s->next;
	} else if (slot_fresh < SLOT_CHUNKS * SLOT_CHUNK_LEN) {
		uint32_t i = slot_fresh;
		_Atomic(fq_slot *) *cp = &slot_chunks[i >> SLOT_CHUNK_BITS];
		fq_slot *chunk = atomic_load_explicit(cp, memory_order_relaxed);
		if (chunk == NULL) {
			chunk = calloc(SLOT_CHUNK_LEN, sizeof(fq_slot));
			if (chunk != NULL)
				atomic_store_explicit(cp, chunk, memory_order_release);
		}
		if (chunk != NULL) {
			slot_fresh++;
			s = &chunk[i & (SLOT_CHUNK_LEN - 1)];
			s->idx = i;
		}
	}
	pthread_mutex_unlock(&slot_mu);
	if (s == NULL)
		return NULL;
	my_slot = s;
	pthread_setspecific(slot_key, s);
	return s;
}

// How long a caller spins for its result before it sleeps. Most Go
// functions answer within a few microseconds when the consumer is awake;
// sleeping and being woken costs two system calls.
#define CALL_SPIN_NS 20000

// How long before its deadline a caller stops sleeping and yields instead
// (await_result): the kernel's default timer slack, and a margin.
#define CALL_EARLY_NS 150000

// Set for the whole of a foreign_call on this thread: a call from a signal
// handler that interrupted it would reuse the thread's slot (block.h).
static _Thread_local volatile int in_call;

// A waiting call that is abandoned other than by its timeout: the thread
// was cancelled, or exited, while it slept.
struct waiting_call {
	fq_slot *s;
	uint32_t gen;
	fq_ctl *c;
};

static void abandon_call(void *p) {
	struct waiting_call *w = p;
	for (;;) {
		uint32_t st = atomic_load_explicit(&w->s->state, memory_order_acquire);
		if ((st >> 8) != w->gen || (st & 0xFF) == SLOT_DONE || (st & 0xFF) == SLOT_ABANDONED)
			break;
		if ((st & 0xFF) == SLOT_COMPLETING) { // the result is being written: let it land
			sched_yield();
			continue;
		}
		if (atomic_compare_exchange_strong_explicit(&w->s->state, &st, w->gen << 8 | SLOT_ABANDONED,
		                                            memory_order_seq_cst, memory_order_seq_cst)) {
			atomic_fetch_add_explicit(&w->c->timed_out, 1, memory_order_relaxed); // gave up, as on a timeout
			break;
		}
	}
	in_call = 0;
}

// await_result waits for the result of the call of generation gen in
// slot s: 0 when it is there (DONE), or FOREIGN_ETIMEDOUT.
static int await_result(fq_ctl *c, fq_slot *s, uint32_t gen, int64_t deadline) {
	volatile int rc = 0; // set after the cleanup handler's setjmp
	struct waiting_call w = {s, gen, c};
	pthread_cleanup_push(abandon_call, &w);
	int64_t spin_until = fq_now_ns() + CALL_SPIN_NS;
	for (;;) {
		uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
		if ((st & 0xFF) == SLOT_DONE)
			break;
		int64_t now = fq_now_ns();
		if ((st & 0xFF) == SLOT_COMPLETING) { // the result is being written
			sched_yield();
			continue;
		}
		if (deadline < 0 || now < deadline) {
			if (now < spin_until) {
				sched_yield();
				continue;
			}
		} else {
			// From PENDING or SLEEPING; a failed CAS means the result is
			// being written (or is there): it is ours after all.
			if (atomic_compare_exchange_strong_explicit(&s->state, &st, gen << 8 | SLOT_ABANDONED,
			                                            memory_order_seq_cst, memory_order_seq_cst)) {
				atomic_fetch_add_explicit(&c->timed_out, 1, memory_order_relaxed);
				rc = FOREIGN_ETIMEDOUT;
				break;
			}
			continue;
		}
		if ((st & 0xFF) == SLOT_PENDING) {
			// Tell the consumer to wake us; a failed CAS means it is completing.
			atomic_compare_exchange_strong_explicit(&s->state, &st, gen << 8 | SLOT_SLEEPING,
			                                        memory_order_seq_cst, memory_order_seq_cst);
			continue;
		}
		// SLEEPING. The kernel lets an ordinary thread's timed sleep end up
		// to its timer slack (50 µs) late, and then it must be scheduled:
		// sleep until CALL_EARLY_NS before the deadline and spin through
		// the rest, so that a caller that gives up returns on time. Spin,
		// not yield: a yield can hand the CPU away for a whole time slice.
		if (deadline >= 0 && now >= deadline - CALL_EARLY_NS) {
			fq_relax();
			continue;
		}
		fq_wait32(&s->state, st, deadline < 0 ? -1 : deadline - CALL_EARLY_NS);
	}
	pthread_cleanup_pop(0);
	return rc;
}

static int do_call(foreign_token t, fq_ctl *c, fq_msg *m, void *ret, size_t retcap, size_t *retlen,
                   int64_t timeout_ns) {
	fq_slot *s = get_slot();
	if (s == NULL)
		return FOREIGN_EINVAL;

	int64_t deadline = fq_deadline(timeout_ns);
	uint64_t whole = (atomic_load_explicit(&s->gen, memory_order_relaxed) + 1) & HDR_GEN_MASK;
	atomic_store_explicit(&s->gen, whole, memory_order_relaxed); // published by the store of state
	uint32_t gen = (uint32_t)whole & SLOT_GEN_MASK;
	s->ret = ret;
	s->retcap = retcap;
	s->retlen = 0;
	atomic_store_explicit(&s->state, gen << 8 | SLOT_PENDING, memory_order_release);
	m->hdr = (uint64_t)s->idx | whole << HDR_IDX_BITS;
	int rc = fq_post_wait(t, m, deadline);
	if (rc != 0) {
		atomic_store_explicit(&s->state, gen << 8 | SLOT_IDLE, memory_order_relaxed);
		return rc;
	}

	rc = await_result(c, s, gen, deadline);
	if (rc == FOREIGN_ETIMEDOUT)
		return rc;
	rc = s->rc;
	if (retlen != NULL && (rc == 0 || rc == FOREIGN_EMSGSIZE))
		*retlen = s->retlen;
	atomic_store_explicit(&s->state, gen << 8 | SLOT_IDLE, memory_order_relaxed);
	return rc;
}

// call is foreign_call and foreign_callv: fixed says the caller wants a
// result of exactly retcap bytes (foreign_call).
static int call(foreign_token t, const struct foreign_iovec *arg, int argcnt, void *ret, size_t retcap,
                size_t *retlen, int64_t timeout_ns, int fixed) {
	if (fq_forked())
		return FOREIGN_ECLOSED;
	fq_ctl *c = fq_lookup(t);
	fq_msg m;
	int rc = fq_msg_init(&m, FQ_MODE_CALL, 0, arg, argcnt);
	if (c == NULL || (ret == NULL && retcap > 0))
		return FOREIGN_EINVAL;
	if (rc != 0)
		return rc;
	uint64_t qgen = fq_tail_gen(atomic_load_explicit(&c->tail, memory_order_acquire));
	if (qgen != fq_token_gen(t))
		return fq_stale_code(fq_token_gen(t), qgen);
	// The result size, read in this generation; the claim checks the kind
	// and the argument size again against the generation it claims in. A
	// function of a byte ring answers with any length; one of cells with
	// its result type's size.
	uint64_t call_ret = atomic_load_explicit(&c->call_ret, memory_order_relaxed);
	int var = atomic_load_explicit(&c->cell_size, memory_order_relaxed) == 0;
	if (call_ret == 0 || (fixed && (var || retcap != call_ret - 1)) || (!var && retcap < call_ret - 1))
		return FOREIGN_EINVAL;
	if (in_call)
		return FOREIGN_EDEADLK; // a signal handler interrupted this thread's own call
	int self = fq_self_call(t, c);
	if (self < 0)
		return self;
	in_call = 1;
	atomic_signal_fence(memory_order_seq_cst); // seen by a handler on this thread
	rc = do_call(t, c, &m, ret, retcap, retlen, timeout_ns);
	atomic_signal_fence(memory_order_seq_cst);
	in_call = 0;
	if (self == 1)
		fq_self_call_end(c);
	return rc;
}

FOREIGN_EXPORT int foreign_call(foreign_token t, const void *arg, size_t arglen, void *ret, size_t retlen,
                                int64_t timeout_ns) {
	struct foreign_iovec iov = {arg, arglen};
	return call(t, &iov, arg == NULL && arglen == 0 ? 0 : 1, ret, retlen, NULL, timeout_ns, 1);
}

FOREIGN_EXPORT int foreign_callv(foreign_token t, const struct foreign_iovec *arg, int argcnt, void *ret,
                                 size_t retcap, size_t *retlen, int64_t timeout_ns) {
	return call(t, arg, argcnt, ret, retcap, retlen, timeout_ns, 0);
}

FQ_FN int fq_complete(uint64_t hdr, int rc, const void *ret, size_t len) {
	fq_slot *s = slot_at((uint32_t)(hdr & ((UINT64_C(1) << HDR_IDX_BITS) - 1)));
	if (s == NULL)
		return 1;
	uint64_t whole = (hdr >> HDR_IDX_BITS) & HDR_GEN_MASK;
	uint32_t gen = (uint32_t)whole & SLOT_GEN_MASK;
	uint32_t st = gen << 8 | SLOT_PENDING;
	int slept = 0;
	if (!atomic_compare_exchange_strong_explicit(&s->state, &st, gen << 8 | SLOT_COMPLETING,
	                                             memory_order_seq_cst, memory_order_seq_cst)) {
		st = gen << 8 | SLOT_SLEEPING;
		if (!atomic_compare_exchange_strong_explicit(&s->state, &st, gen << 8 | SLOT_COMPLETING,
		                                             memory_order_seq_cst, memory_order_seq_cst))
			return 1; // the caller gave up, or the slot moved on: drop the result
		slept = 1;
	}
	// The CAS matched the low 24 bits; a call 2^24 calls later on the same
	// slot would too. Only the whole generation says it is this call: if
	// not, put the caller's state back (it waits out COMPLETING) and drop.
	if (atomic_load_explicit(&s->gen, memory_order_relaxed) != whole) {
		atomic_store_explicit(&s->state, st, memory_order_seq_cst);
		return 1;
	}
	// The caller's buffer is ours until DONE: its timeout's CAS fails now.
	if (rc == 0 && len > s->retcap)
		rc = FOREIGN_EMSGSIZE; // *retlen tells the caller how much room it needs
	s->rc = rc;
	s->retlen = len;
	if (rc == 0 && len > 0)
		memcpy(s->ret, ret, len);
	// Passes the result to the caller.
	atomic_store_explicit(&s->state, gen << 8 | SLOT_DONE, memory_order_seq_cst);
	if (slept)
		fq_wake32(&s->state);
	return 0;
}

// fq_skip_call_gens advances the calling thread's slot by n call
// generations, as n calls would: a test hook, to reach the 24-bit wrap of
// the state word without making 2^24 calls.
FQ_FN void fq_skip_call_gens(uint64_t n) {
	fq_slot *s = get_slot();
	if (s != NULL)
		atomic_store_explicit(&s->gen, (atomic_load_explicit(&s->gen, memory_order_relaxed) + n) & HDR_GEN_MASK,
		                      memory_order_relaxed);
}
