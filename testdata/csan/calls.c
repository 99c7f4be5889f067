// calls.c: a C-only stress test of the blocking paths of the C ABI,
// foreign_post_wait and foreign_call, built with the library's C and no
// Go, so that ThreadSanitizer and AddressSanitizer+UBSan see every access
// they make. .ci/csan.sh builds and runs it under each.
//
// Usage: calls [scale [seed]]
//
// The sizes are fixed (scale multiplies them; CI runs scale 1) so that the
// run stays short under ThreadSanitizer whatever stress.c is given.
//
// C threads here play the Go side too. A consumer thread receives with
// fq_c_recv/fq_c_park and then does what the Go consumer's release (consume.go) does: when
// producers wait for room it calls fq_space. A server thread does what
// func.go does for a function: it names itself in consumer_tid while it
// serves, and hands each result to its caller with fq_complete, or hands it
// to a "late" thread that completes it after a delay, as a second completer
// (Go's Config.Workers) or a slow function would.
//
// Everything except bad input runs twice: on futexes and on the portable
// condition-variable fallback (fq_set_futex).
//
// Phases:
//   wait/order   8 producers post sequence-numbered messages with
//                foreign_post_wait into rings of capacity 1, 2 and 4; the
//                consumer checks each producer's order, no loss, no
//                duplication. Nothing may time out. Then a single producer,
//                which a lost wake-up leaves asleep for good.
//   wait/timeout a full ring and no consumer: waits time out, are counted,
//                and take at least their timeout; then fq_close_token wakes every
//                waiter, also those with no time limit, with FOREIGN_ECLOSED.
//   wait/close   rounds of producers waiting on tiny rings while the queue
//                is closed at a random moment: every accepted message is
//                received, every producer is released.
//   call/serve   8 callers make calls through rings of capacity 1, 2 and 4
//                (so calls also wait for room) and check every result; some
//                calls are completed by the late thread, some report a
//                handler panic (FOREIGN_EPANIC, result untouched), some are
//                completed twice (the second must be refused), and in some
//                the server calls back into the function from its own thread
//                (FOREIGN_EDEADLK).
//   call/timeout callers make slow calls with short timeouts between normal
//                ones: a timed-out call's late completion is dropped (it
//                returns 1) while the same slot already carries the thread's
//                next call, which must get its own result.
//   call/exit    short-lived threads make a slow call, time out and exit, so
//                their slots are recycled (the pthread key destructor) and
//                taken by new threads while the late completions of the
//                abandoned calls still arrive.
//   call/close   callers blocked waiting for room get FOREIGN_ECLOSED from
//                fq_close_token, while the calls already accepted still complete;
//                then rounds of callers racing a close.
//   call/dtor    calls from a
//                pthread key destructor at thread exit.
//   call/sizes   a function with no argument and no result (NULL pointers),
//                one with a large result (BIG_RET), one with a
//                larger argument.
//   call/bad     calls to plain queues, posts to functions, wrong sizes,
//                NULL pointers, stale and bogus completions, fq_open checks.
//
// A failure prints "calls: FAIL: ..." and exits 1; a watchdog turns a hang
// into a failure (harness.h), and waits that must end (waiters released by
// a close) are given a deadline of their own.

#define _GNU_SOURCE // syscall(SYS_gettid)

#include "fq.c" // the library's C, one translation unit: its functions are static
#include "cconsumer.c"

#define HARNESS_NAME "calls"
#include "harness.h"

#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>

// A large result, kept on the stack of the test threads (results may be
// far larger: they go straight into the caller's buffer).
#define BIG_RET 4096

enum {
	NPROD = 8,             // producers (wait) and callers (call)
	SPIN_BEFORE_PARK = 64, // empty polls before a consumer parks
	AWAIT_SECS = 10,       // a wait that must end (a close's wake-up) gets this long
	LATE_MAX = 256,        // completions the late thread can hold
	MAX_ARG = 64,          // the largest argument a test function takes
};

#define NO_LIMIT (-1)                         // timeout: wait as long as it takes
#define LONG_LIMIT (INT64_C(60) * 1000000000) // a timeout that must never expire here

static int scale = 1;

static const char *wait_kind(void) { return fq_using_futex() ? "futex" : "condvar"; }

// await polls until *v == want. It is for waits that are bounded by the
// contract (fq_close_token releases every waiter), so it fails after AWAIT_SECS
// rather than leaving it to the watchdog.
static void await_u32(_Atomic uint32_t *v, uint32_t want, const char *what) {
	int64_t end = mono_ns() + (int64_t)AWAIT_SECS * 1000000000;
	uint32_t got;
	while ((got = atomic_load(v)) != want) {
		if (mono_ns() > end)
			fail("%s [%s]: %" PRIu32 " after %d s, want %" PRIu32, what, wait_kind(), got, AWAIT_SECS,
			     want);
		sleep_ns(100000);
		bump();
	}
}

// ---- queues ----------------------------------------------------------------

typedef struct {
	uintptr_t token;
	fq_ctl *c;
	uint64_t start;
} queue;

// open_q opens a plain queue (call_ret < 0) or a function: for a function
// the ring message is the 8-byte call header followed by the argument.
static void open_q(queue *q, uint64_t msg_size, uint64_t capacity, uint64_t start, int kind, int64_t call_arg,
                   int64_t call_ret) {
	int rc = fq_open8(msg_size, capacity, start, kind, call_arg, call_ret, &q->token, &q->c);
	if (rc != 0)
		fail("fq_open(msg %" PRIu64 ", cap %" PRIu64 ", arg %" PRId64 ", ret %" PRId64 "): %s", msg_size,
		     capacity, call_arg, call_ret, strerror(-rc));
	q->start = start & FQ_POS_MASK;
}

// close_q is Go's Close: it sets closed, wakes producers waiting for room,
// and wakes a parked consumer (all inside fq_close_token).
static uint64_t close_q(queue *q) { return fq_close8(q->token); }

// free_q is Go's teardown after the drain. fq_free closes only the pipe's
// write end; the read end (the eventfd itself) belongs to the consumer.
static void free_q(queue *q) {
	int rfd = (int)atomic_load(&q->c->read_fd);
	fq_free(q->token);
	if (close(rfd) != 0)
		fail("close(read fd %d): %s", rfd, strerror(errno));
}

// take is the consumer's receive step followed by the Go consumer's release (consume.go):
// after passing a cell back it wakes producers that wait for room.
//
// block.h ("Waiting for room") has the consumer store head seq_cst and then
// load waiters, one side of a Dekker pair with the waiter's increment of
// waiters and its re-read of head. fq_c_recv's store of head is seq_cst for
// that reason (it was a release store once, and this test hung on it: a
// release store followed by a load may be reordered by x86's store buffer).
static int take(fq_ctl *c, void *m) {
	int rc = fq_c_recv(c, m);
	if (rc == 1) {
		if (atomic_load(&c->waiters) != 0)
			fq_space(c);
	}
	return rc;
}

// next_msg returns 1 with the next message in m, or -1 when the queue is
// closed and drained; it spins a little, then parks, while the ring is empty.
static int next_msg(fq_ctl *c, void *m) {
	for (int idle = 0;;) {
		int rc = take(c, m);
		if (rc != 0)
			return rc;
		if (++idle < SPIN_BEFORE_PARK) {
			sched_yield();
			continue;
		}
		idle = 0;
		fq_c_park(c);
	}
}

// ---- wait: foreign_post_wait -------------------------------------------------

// The message: which producer, its sequence number, and a check value so a
// torn or misplaced copy is caught.
typedef struct {
	uint32_t producer;
	uint32_t check;
	uint64_t seq;
} msg;

static uint32_t check_of(uint32_t producer, uint64_t seq) {
	return (uint32_t)(seq * 2654435761u) ^ (producer << 28) ^ 0xc3a5c3a5u;
}

typedef struct {
	queue *q;
	uint64_t next[NPROD]; // the next seq expected from each producer
	uint64_t received;
	uint64_t rng;
} pw_consumer;

static void *pw_consumer_main(void *arg) {
	pw_consumer *k = arg;
	msg m;
	while (next_msg(k->q->c, &m) > 0) {
		if (m.producer >= NPROD)
			fail("wait: message from producer %" PRIu32, m.producer);
		if (m.seq != k->next[m.producer])
			fail("wait: producer %" PRIu32 ": got seq %" PRIu64 ", want %" PRIu64 " (%s)", m.producer, m.seq,
			     k->next[m.producer], m.seq < k->next[m.producer] ? "duplicate or reordered" : "lost");
		if (m.check != check_of(m.producer, m.seq))
			fail("wait: producer %" PRIu32 " seq %" PRIu64 ": corrupt message", m.producer, m.seq);
		k->next[m.producer]++;
		k->received++;
		bump();
		// Now and then fall behind, so that every producer ends up asleep
		// waiting for room, not just retrying.
		if ((next_rand(&k->rng) & 1023) == 0)
			sleep_ns(50000);
	}
	return NULL;
}

typedef struct {
	uintptr_t token;
	uint32_t id;
	uint64_t n;      // messages to post; 0: post until FOREIGN_ECLOSED
	int64_t timeout; // per post
	uint64_t sent;
} pw_producer;

static void *pw_producer_main(void *arg) {
	pw_producer *p = arg;
	while (p->n == 0 || p->sent < p->n) {
		msg m = {.producer = p->id, .check = check_of(p->id, p->sent), .seq = p->sent};
		int rc = foreign_post_wait(p->token, &m, sizeof m, p->timeout);
		if (rc == FOREIGN_ECLOSED && p->n == 0)
			return NULL;
		if (rc != 0)
			fail("wait [%s]: producer %" PRIu32 ": foreign_post_wait = %d (%s)", wait_kind(), p->id, rc,
			     foreign_strerror(rc));
		p->sent++;
		bump();
		// Pause now and then, so the ring runs empty and the consumer parks.
		if (p->sent % 1024 == 0)
			sleep_ns(20000 + 5000 * (long)p->id);
	}
	return NULL;
}

// Half the producers wait without a limit, half with one that never
// expires: the two take different paths through fq_wait32.
static int64_t producer_timeout(uint32_t id) { return (id & 1) ? LONG_LIMIT : NO_LIMIT; }

// pw_order runs nprod producers of n messages each. With one producer a
// lost wake-up cannot hide: no other producer's post makes the consumer
// look at waiters again, so the producer sleeps for good and the watchdog
// fires.
static void pw_order(uint64_t capacity, int kind, uint64_t start, int nprod, uint64_t n, uint64_t *rng) {
	queue q;
	open_q(&q, sizeof(msg), capacity, start, kind, 0, -1);
	pw_consumer k = {.q = &q, .rng = next_rand(rng) | 1};
	pw_producer ps[NPROD];
	pthread_t ct, pt[NPROD];
	// space_seq carries over from the block's earlier queues; it moves each
	// time the consumer finds waiters (and once at the close).
	uint32_t space0 = atomic_load(&q.c->space_seq);
	start_thread(&ct, pw_consumer_main, &k);
	for (uint32_t i = 0; i < (uint32_t)nprod; i++) {
		ps[i] = (pw_producer){.token = q.token, .id = i, .n = n, .timeout = producer_timeout(i)};
		start_thread(&pt[i], pw_producer_main, &ps[i]);
	}
	for (int i = 0; i < nprod; i++)
		pthread_join(pt[i], NULL);
	uint64_t end = close_q(&q);
	pthread_join(ct, NULL);

	if (end != ((q.start + (uint64_t)nprod * n) & FQ_POS_MASK))
		fail("wait/order cap %" PRIu64 ": final position %#" PRIx64 " after %d x %" PRIu64 " from %#" PRIx64,
		     capacity, end, nprod, n, q.start);
	for (int i = 0; i < nprod; i++)
		if (k.next[i] != n)
			fail("wait/order cap %" PRIu64 ": producer %d: received %" PRIu64 " of %" PRIu64, capacity, i,
			     k.next[i], n);
	if (atomic_load(&q.c->timed_out) != 0)
		fail("wait/order cap %" PRIu64 ": timed_out = %" PRIu64 " with no finite timeout", capacity,
		     atomic_load(&q.c->timed_out));
	if (atomic_load(&q.c->waiters) != 0)
		fail("wait/order cap %" PRIu64 ": waiters = %" PRIu32 " after every producer returned", capacity,
		     atomic_load(&q.c->waiters));
	if (atomic_load(&q.c->space_seq) - space0 < 2)
		fail("wait/order cap %" PRIu64 " [%s]: the consumer never found a producer waiting for room", capacity,
		     wait_kind());
	free_q(&q);
}

// A waiter posts n times to a full queue nobody consumes and records how
// each post ended.
typedef struct {
	uintptr_t token;
	int64_t timeout;
	int n;
	int timeouts, closed;
	_Atomic uint32_t *returned; // bumped when the thread is done
} pw_waiter;

static void *pw_waiter_main(void *arg) {
	pw_waiter *w = arg;
	for (int i = 0; i < w->n; i++) {
		msg m = {0};
		int64_t t0 = mono_ns();
		int rc = foreign_post_wait(w->token, &m, sizeof m, w->timeout);
		int64_t took = mono_ns() - t0;
		if (rc == FOREIGN_ETIMEDOUT) {
			if (w->timeout < 0 || w->timeout >= LONG_LIMIT)
				fail("wait/timeout [%s]: a wait with timeout %" PRId64 " timed out", wait_kind(), w->timeout);
			if (took < w->timeout)
				fail("wait/timeout [%s]: timed out after %" PRId64 " ns, before its timeout of %" PRId64,
				     wait_kind(), took, w->timeout);
			w->timeouts++;
		} else if (rc == FOREIGN_ECLOSED) {
			w->closed++;
			break;
		} else {
			fail("wait/timeout [%s]: foreign_post_wait on a full queue = %d (%s)", wait_kind(), rc,
			     foreign_strerror(rc));
		}
		bump();
	}
	atomic_fetch_add(w->returned, 1);
	return NULL;
}

static void pw_timeouts(int kind) {
	enum { CAP = 2, TIMERS = 4, TIMED_POSTS = 3, BLOCKED = 6 };
	const int64_t timeout = 2000000; // 2 ms
	queue q;
	open_q(&q, sizeof(msg), CAP, 0, kind, 0, -1);
	msg m = {0};
	for (int i = 0; i < CAP; i++)
		if (foreign_post(q.token, &m, sizeof m) != 0)
			fail("wait/timeout: filling the queue");

	// A zero timeout on a full queue gives up at once.
	int rc = foreign_post_wait(q.token, &m, sizeof m, 0);
	if (rc != FOREIGN_ETIMEDOUT)
		fail("wait/timeout [%s]: timeout 0 on a full queue = %d, want FOREIGN_ETIMEDOUT", wait_kind(), rc);

	_Atomic uint32_t returned = 0;
	pw_waiter ws[TIMERS + BLOCKED];
	pthread_t wt[TIMERS + BLOCKED];
	for (int i = 0; i < TIMERS; i++) {
		ws[i] = (pw_waiter){.token = q.token, .timeout = timeout, .n = TIMED_POSTS, .returned = &returned};
		start_thread(&wt[i], pw_waiter_main, &ws[i]);
	}
	await_u32(&returned, TIMERS, "wait/timeout: waiters with a timeout returned");
	for (int i = 0; i < TIMERS; i++) {
		pthread_join(wt[i], NULL);
		if (ws[i].timeouts != TIMED_POSTS)
			fail("wait/timeout [%s]: %d of %d waits timed out", wait_kind(), ws[i].timeouts, TIMED_POSTS);
	}
	uint64_t want = 1 + TIMERS * TIMED_POSTS;
	if (atomic_load(&q.c->timed_out) != want)
		fail("wait/timeout [%s]: timed_out = %" PRIu64 ", want %" PRIu64, wait_kind(),
		     atomic_load(&q.c->timed_out), want);
	if (atomic_load(&q.c->waiters) != 0)
		fail("wait/timeout [%s]: waiters = %" PRIu32 " after the timeouts", wait_kind(),
		     atomic_load(&q.c->waiters));

	// Room made by the consumer lets the next wait through at once.
	if (take(q.c, &m) != 1)
		fail("wait/timeout: the full queue gave no message");
	rc = foreign_post_wait(q.token, &m, sizeof m, timeout);
	if (rc != 0)
		fail("wait/timeout [%s]: wait with room = %d (%s)", wait_kind(), rc, foreign_strerror(rc));

	// Waiters with no limit and with a distant one, all asleep on the full
	// queue: fq_close_token must wake every one of them, promptly.
	atomic_store(&returned, 0);
	for (int i = TIMERS; i < TIMERS + BLOCKED; i++) {
		ws[i] = (pw_waiter){.token = q.token, .timeout = (i & 1) ? LONG_LIMIT : NO_LIMIT, .n = 1,
		                    .returned = &returned};
		start_thread(&wt[i], pw_waiter_main, &ws[i]);
	}
	await_u32(&q.c->waiters, BLOCKED, "wait/timeout: blocked waiters");
	sleep_ns(2000000); // let them get into fq_wait32
	if (atomic_load(&returned) != 0)
		fail("wait/timeout [%s]: a waiter returned from a full queue before the close", wait_kind());
	uint64_t rejected = atomic_load(&q.c->rejected_closed);
	close_q(&q);
	await_u32(&returned, BLOCKED, "wait/timeout: waiters released by fq_close_token");
	for (int i = TIMERS; i < TIMERS + BLOCKED; i++) {
		pthread_join(wt[i], NULL);
		if (ws[i].closed != 1)
			fail("wait/timeout [%s]: a waiter released by the close did not get FOREIGN_ECLOSED", wait_kind());
	}
	if (atomic_load(&q.c->rejected_closed) < rejected + BLOCKED)
		fail("wait/timeout [%s]: rejected_closed went from %" PRIu64 " to %" PRIu64 " for %d refused waiters",
		     wait_kind(), rejected, atomic_load(&q.c->rejected_closed), BLOCKED);
	if (atomic_load(&q.c->waiters) != 0)
		fail("wait/timeout [%s]: waiters = %" PRIu32 " after the close", wait_kind(),
		     atomic_load(&q.c->waiters));
	if (foreign_post_wait(q.token, &m, sizeof m, NO_LIMIT) != FOREIGN_ECLOSED)
		fail("wait/timeout [%s]: a wait on a closed queue did not fail at once", wait_kind());
	for (int i = 0; i < CAP; i++)
		if (take(q.c, &m) != 1)
			fail("wait/timeout: an accepted message was lost in the close");
	if (take(q.c, &m) != -1)
		fail("wait/timeout: closed queue not drained");
	free_q(&q);
}

static void pw_close_rounds(int rounds, uint64_t *rng) {
	static const uint64_t caps[] = {1, 2, 4};
	for (int r = 0; r < rounds; r++) {
		int kind = (r & 1) ? FQ_WAKE_PIPE : FQ_WAKE_EVENTFD;
		uint64_t start = (r % 4 == 3) ? FQ_POS_MASK + 1 - next_rand(rng) % 16 : next_rand(rng) % 1000;
		queue q;
		open_q(&q, sizeof(msg), caps[next_rand(rng) % 3], start, kind, 0, -1);
		pw_consumer k = {.q = &q, .rng = next_rand(rng) | 1};
		pw_producer ps[NPROD];
		pthread_t ct, pt[NPROD];
		start_thread(&ct, pw_consumer_main, &k);
		for (uint32_t i = 0; i < NPROD; i++) {
			ps[i] = (pw_producer){.token = q.token, .id = i, .timeout = producer_timeout(i)};
			start_thread(&pt[i], pw_producer_main, &ps[i]);
		}
		sleep_ns((long)(next_rand(rng) % 2000000));
		uint64_t end = close_q(&q);
		pthread_join(ct, NULL);
		free_q(&q); // what Go does: producers may still be leaving fq_post
		for (int i = 0; i < NPROD; i++)
			pthread_join(pt[i], NULL);
		uint64_t total = 0;
		for (int i = 0; i < NPROD; i++) {
			if (ps[i].sent != k.next[i])
				fail("wait/close round %d [%s]: producer %d: %" PRIu64 " accepted, %" PRIu64 " received", r,
				     wait_kind(), i, ps[i].sent, k.next[i]);
			total += ps[i].sent;
		}
		if (end != ((q.start + total) & FQ_POS_MASK))
			fail("wait/close round %d: final position %#" PRIx64 " but %" PRIu64 " accepted from %#" PRIx64, r,
			     end, total, q.start);
		if (atomic_load(&q.c->waiters) != 0)
			fail("wait/close round %d [%s]: waiters = %" PRIu32 " after every producer returned", r,
			     wait_kind(), atomic_load(&q.c->waiters));
		bump();
	}
}

// ---- call: foreign_call --------------------------------------------------------

// The argument of the test functions. op asks the server for something
// besides the answer; check catches a torn or misplaced copy.
enum {
	OP_DEADLK = 1, // the server calls the function from its own thread first
	OP_PANIC = 2,  // the server reports FOREIGN_EPANIC instead of a result
	OP_LATE = 4,   // the late thread completes it, after delay_us
	OP_DUP = 8,    // the server completes it twice; the second must be refused
};

typedef struct {
	uint32_t caller;
	uint32_t op;
	uint64_t seq;
	uint32_t delay_us;
	uint32_t check;
} carg;

typedef struct {
	uint64_t w[2];
} cres;

#define CMSG (8 + sizeof(carg)) // the ring message: header, then argument

static uint32_t carg_check(const carg *a) {
	return (uint32_t)(a->seq * 0x9e3779b97f4a7c15u >> 32) ^ (a->caller * 0x85ebca6bu) ^ a->op ^
	       (a->delay_us << 8);
}

static uint64_t mix64(uint64_t x) {
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9u;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

// answer is "the Go function": retlen bytes (a multiple of 8) derived from
// every byte of the argument, so a result that belongs to another call, or
// is torn, does not match.
static void answer(const void *arg, size_t arglen, void *ret, size_t retlen) {
	uint64_t h = 0x243f6a8885a308d3u ^ arglen;
	for (size_t i = 0; i < arglen; i++)
		h = mix64(h ^ ((const unsigned char *)arg)[i]);
	for (size_t k = 0; k < retlen / 8; k++) {
		uint64_t w = mix64(h + k);
		memcpy((unsigned char *)ret + 8 * k, &w, 8);
	}
}

// ---- the server and its late completer ----

typedef struct {
	uint64_t hdr;
	int64_t due;
	cres r;
} late_call;

// What the server saw of the slot indices in the call headers: the exit
// phase checks that dead threads' slots were taken by new threads.
enum { SLOT_BITS = 18 }; // call.c: 1024 chunks of 256 slots
#define HDR_IDX_MASK ((UINT64_C(1) << HDR_IDX_BITS) - 1) // call.c: a header's slot index
static uint8_t slots_seen[1u << SLOT_BITS];

typedef struct {
	queue *q;
	size_t arglen, retlen;
	int typed; // the argument is a carg and the result a cres: ops apply
	uint64_t served, panics, dups, deadlocks;
	uint32_t distinct_slots;

	// The late thread's queue of completions.
	pthread_mutex_t mu;
	late_call late[LATE_MAX];
	int nlate;
	int stop;
	_Atomic uint64_t late_done, late_dropped;
} server;

static void late_push(server *s, uint64_t hdr, const cres *r, uint32_t delay_us) {
	pthread_mutex_lock(&s->mu);
	if (s->nlate == LATE_MAX)
		fail("call: more than %d late completions pending", LATE_MAX);
	s->late[s->nlate++] = (late_call){.hdr = hdr, .due = mono_ns() + (int64_t)delay_us * 1000, .r = *r};
	pthread_mutex_unlock(&s->mu);
}

// late_main completes the calls handed to it once they are due, from a
// thread other than the server's. A completion returns 1 exactly when its
// caller timed out first.
static void *late_main(void *arg) {
	server *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		int pick = -1;
		int64_t now = mono_ns();
		for (int i = 0; i < s->nlate; i++)
			if (s->late[i].due <= now && (pick < 0 || s->late[i].due < s->late[pick].due))
				pick = i;
		late_call lc = {0};
		if (pick >= 0) {
			lc = s->late[pick];
			s->late[pick] = s->late[--s->nlate];
		}
		int done = pick < 0 && s->stop && s->nlate == 0;
		pthread_mutex_unlock(&s->mu);
		if (done)
			return NULL;
		if (pick < 0) {
			sleep_ns(100000);
			continue;
		}
		if (fq_complete(lc.hdr, 0, &lc.r, sizeof lc.r) == 0)
			atomic_fetch_add(&s->late_done, 1);
		else
			atomic_fetch_add(&s->late_dropped, 1);
		bump();
	}
}

static void serve_typed(server *s, uint64_t hdr, const carg *a) {
	if (a->check != carg_check(a))
		fail("call [%s]: corrupt argument (caller %" PRIu32 " seq %" PRIu64 ")", wait_kind(), a->caller, a->seq);
	cres r;
	if (a->op & OP_DEADLK) {
		// Go's fn calling into C that calls the function again: it would
		// wait for this very thread. A finite timeout, so that a missed
		// check fails with the wrong code instead of hanging.
		cres x;
		int rc = foreign_call(s->q->token, a, sizeof *a, &x, sizeof x, 1000000);
		if (rc != FOREIGN_EDEADLK)
			fail("call [%s]: foreign_call from the serving thread = %d (%s), want FOREIGN_EDEADLK", wait_kind(),
			     rc, foreign_strerror(rc));
		s->deadlocks++;
	}
	answer(a, sizeof *a, &r, sizeof r);
	if (a->op & OP_LATE) {
		late_push(s, hdr, &r, a->delay_us);
		return;
	}
	int rc = (a->op & OP_PANIC) ? fq_complete(hdr, FOREIGN_EPANIC, &r, sizeof r) : fq_complete(hdr, 0, &r, sizeof r);
	if (rc != 0)
		fail("call [%s]: caller %" PRIu32 " seq %" PRIu64 " was gone before its result (fq_complete = %d)",
		     wait_kind(), a->caller, a->seq, rc);
	s->panics += (a->op & OP_PANIC) != 0;
	if (a->op & OP_DUP) {
		// The caller may already be in its next call on the same slot;
		// the stale generation must keep this out of it.
		cres bogus = {{~r.w[0], ~r.w[1]}};
		if (fq_complete(hdr, 0, &bogus, sizeof bogus) != 1)
			fail("call [%s]: a second completion of one call was accepted", wait_kind());
		s->dups++;
	}
}

static void *server_main(void *arg) {
	server *s = arg;
	fq_ctl *c = s->q->c;

	unsigned char m[8 + MAX_ARG];
	unsigned char r[BIG_RET];
	while (next_msg(c, m) > 0) {
		uint64_t hdr;
		memcpy(&hdr, m, sizeof hdr);
		uint32_t slot = (uint32_t)(hdr & HDR_IDX_MASK);
		if (slot >> SLOT_BITS)
			fail("call: header %#" PRIx64 " names slot %" PRIu32 ", beyond call.c's table", hdr, slot);
		if (!slots_seen[slot]) {
			slots_seen[slot] = 1;
			s->distinct_slots++;
		}
		// As the Go consumer does: the thread running the function is
		// marked as serving it while it runs, so that a call back into it
		// fails with EDEADLK.
		uint64_t served = fq_serve_enter(s->q->token);
		if (s->typed) {
			carg a;
			memcpy(&a, m + 8, sizeof a);
			serve_typed(s, hdr, &a);
		} else {
			answer(m + 8, s->arglen, r, s->retlen);
			int rc = fq_complete(hdr, 0, s->retlen ? r : NULL, s->retlen);
			if (rc != 0)
				fail("call [%s]: fq_complete = %d for a caller with no timeout", wait_kind(), rc);
		}
		fq_serve_leave(served);
		s->served++;
		bump();
	}
	return NULL;
}

static void server_init(server *s, queue *q, size_t arglen, size_t retlen) {
	memset(s, 0, sizeof *s);
	s->q = q;
	s->arglen = arglen;
	s->retlen = retlen;
	s->typed = arglen == sizeof(carg) && retlen == sizeof(cres);
	pthread_mutex_init(&s->mu, NULL);
	memset(slots_seen, 0, sizeof slots_seen);
}

// server_finish waits for the late thread to deliver what it holds.
static void server_finish(server *s, pthread_t late) {
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_mutex_unlock(&s->mu);
	pthread_join(late, NULL);
	pthread_mutex_destroy(&s->mu);
}

// ---- callers ----

typedef struct {
	uintptr_t token;
	uint32_t id;
	uint64_t n;            // calls to make; 0: until FOREIGN_ECLOSED
	int allow_closed;      // FOREIGN_ECLOSED ends the thread without failing
	int64_t timeout;       // of normal calls
	uint32_t slow_every;   // calls 0, slow_every, 2*slow_every... are slow (OP_LATE); 0: none
	int64_t slow_timeout;  // of slow calls
	uint32_t slow_max_us;  // a slow call's completion is delayed by up to this
	int ops;               // add OP_DEADLK, OP_PANIC, OP_DUP and fast OP_LATE calls
	uint64_t rng;
	_Atomic uint32_t *returned; // bumped when the thread is done, if set

	uint64_t ok, panicked, slow_ok, slow_timeouts, calls;
	int closed;
} caller;

static void fill_carg(caller *k, carg *a, uint64_t i, int slow) {
	*a = (carg){.caller = k->id, .seq = i};
	if (slow) {
		a->op = OP_LATE;
		a->delay_us = (uint32_t)(next_rand(&k->rng) % (k->slow_max_us + 1));
	} else if (k->ops) {
		if (i % 61 == 60)
			a->op |= OP_DEADLK;
		if (i % 53 == 52)
			a->op |= OP_PANIC;
		else if (i % 47 == 46)
			a->op |= OP_DUP;
		else if (i % 7 == 6)
			a->op |= OP_LATE; // completed by another thread, in time
	}
	a->check = carg_check(a);
}

static int untouched(const cres *r) {
	const unsigned char *p = (const unsigned char *)r;
	for (size_t i = 0; i < sizeof *r; i++)
		if (p[i] != 0xa5)
			return 0;
	return 1;
}

static void *caller_main(void *arg) {
	caller *k = arg;
	for (uint64_t i = 0; k->n == 0 || i < k->n; i++) {
		int slow = k->slow_every != 0 && i % k->slow_every == 0;
		carg a;
		fill_carg(k, &a, i, slow);
		cres r;
		memset(&r, 0xa5, sizeof r);
		int rc = foreign_call(k->token, &a, sizeof a, &r, sizeof r, slow ? k->slow_timeout : k->timeout);
		k->calls++;
		if (rc == 0) {
			cres want;
			answer(&a, sizeof a, &want, sizeof want);
			if (a.op & OP_PANIC)
				fail("call [%s]: caller %" PRIu32 " seq %" PRIu64 ": a panicking call returned 0", wait_kind(),
				     k->id, i);
			if (memcmp(&r, &want, sizeof r) != 0)
				fail("call [%s]: caller %" PRIu32 " seq %" PRIu64 " (op %" PRIu32 "): wrong result %#" PRIx64
				     " %#" PRIx64 ", want %#" PRIx64 " %#" PRIx64,
				     wait_kind(), k->id, i, a.op, r.w[0], r.w[1], want.w[0], want.w[1]);
			k->ok++;
			k->slow_ok += slow;
		} else if (rc == FOREIGN_EPANIC && (a.op & OP_PANIC)) {
			if (!untouched(&r))
				fail("call [%s]: FOREIGN_EPANIC wrote into the result", wait_kind());
			k->panicked++;
		} else if (rc == FOREIGN_ETIMEDOUT && slow) {
			if (!untouched(&r))
				fail("call [%s]: a timed-out call wrote into the result", wait_kind());
			k->slow_timeouts++;
		} else if (rc == FOREIGN_ECLOSED && k->allow_closed) {
			if (!untouched(&r))
				fail("call [%s]: a refused call wrote into the result", wait_kind());
			k->closed = 1;
			break;
		} else {
			fail("call [%s]: caller %" PRIu32 " seq %" PRIu64 " (op %" PRIu32 "): foreign_call = %d (%s)",
			     wait_kind(), k->id, i, a.op, rc, foreign_strerror(rc));
		}
		bump();
	}
	if (k->returned != NULL)
		atomic_fetch_add(k->returned, 1);
	return NULL;
}

static uint64_t function_start(uint64_t *rng) {
	// One function in four starts just below the 44-bit wrap.
	return (next_rand(rng) % 4 == 0) ? FQ_POS_MASK + 1 - next_rand(rng) % 16 : next_rand(rng) % 1000;
}

static void open_function(queue *q, uint64_t capacity, int kind, uint64_t *rng) {
	open_q(q, CMSG, capacity, function_start(rng), kind, sizeof(carg), sizeof(cres));
}

// call_serve: many callers, every result checked, tiny rings.
static void call_serve(uint64_t capacity, int kind, uint64_t n, uint64_t *rng) {
	queue q;
	open_function(&q, capacity, kind, rng);
	server s;
	server_init(&s, &q, sizeof(carg), sizeof(cres));
	pthread_t st, lt, ct[NPROD];
	start_thread(&st, server_main, &s);
	start_thread(&lt, late_main, &s);
	caller ks[NPROD];
	for (uint32_t i = 0; i < NPROD; i++) {
		ks[i] = (caller){.token = q.token, .id = i, .n = n, .timeout = producer_timeout(i), .ops = 1,
		                 .rng = next_rand(rng) | 1};
		start_thread(&ct[i], caller_main, &ks[i]);
	}
	for (int i = 0; i < NPROD; i++)
		pthread_join(ct[i], NULL);
	close_q(&q);
	pthread_join(st, NULL);
	server_finish(&s, lt);

	uint64_t ok = 0, panicked = 0;
	for (int i = 0; i < NPROD; i++) {
		ok += ks[i].ok;
		panicked += ks[i].panicked;
	}
	if (ok + panicked != NPROD * n || s.served != NPROD * n || panicked != s.panics)
		fail("call/serve cap %" PRIu64 " [%s]: %" PRIu64 " ok + %" PRIu64 " panicked of %" PRIu64
		     " calls, %" PRIu64 " served, %" PRIu64 " panics reported",
		     capacity, wait_kind(), ok, panicked, NPROD * n, s.served, s.panics);
	if (atomic_load(&s.late_dropped) != 0 || atomic_load(&q.c->timed_out) != 0)
		fail("call/serve cap %" PRIu64 " [%s]: %" PRIu64 " completions dropped, %" PRIu64
		     " timed out, with no timeouts set",
		     capacity, wait_kind(), atomic_load(&s.late_dropped), atomic_load(&q.c->timed_out));
	if (s.deadlocks == 0 || s.dups == 0 || atomic_load(&s.late_done) == 0)
		fail("call/serve: an op was never exercised (EDEADLK %" PRIu64 ", dup %" PRIu64 ", late %" PRIu64 ")",
		     s.deadlocks, s.dups, atomic_load(&s.late_done));
	if (atomic_load(&q.c->waiters) != 0)
		fail("call/serve cap %" PRIu64 " [%s]: waiters = %" PRIu32 " at the end", capacity, wait_kind(),
		     atomic_load(&q.c->waiters));
	free_q(&q);
}

// check_late checks that the late completions and the callers agree: a
// slow call timed out exactly when its completion was dropped.
static void check_late(const char *name, server *s, queue *q, caller *ks, int nk, uint64_t *timeouts) {
	uint64_t slow_ok = 0, slow_to = 0;
	for (int i = 0; i < nk; i++) {
		slow_ok += ks[i].slow_ok;
		slow_to += ks[i].slow_timeouts;
	}
	if (slow_to != atomic_load(&s->late_dropped) || slow_ok != atomic_load(&s->late_done))
		fail("%s [%s]: callers saw %" PRIu64 " slow calls time out and %" PRIu64 " succeed; "
		     "%" PRIu64 " late completions were dropped and %" PRIu64 " delivered",
		     name, wait_kind(), slow_to, slow_ok, atomic_load(&s->late_dropped), atomic_load(&s->late_done));
	if (atomic_load(&q->c->timed_out) != slow_to)
		fail("%s [%s]: timed_out = %" PRIu64 ", but %" PRIu64 " calls timed out", name, wait_kind(),
		     atomic_load(&q->c->timed_out), slow_to);
	if (slow_to == 0)
		fail("%s [%s]: no call timed out; the timeout path was not exercised", name, wait_kind());
	*timeouts += slow_to;
}

// call_timeout: slow calls with short timeouts between normal calls on the
// same threads. The ring holds a call from every caller, so every timeout
// is a caller giving up on its result, never on room in the ring.
static void call_timeout(int kind, uint64_t n, uint64_t *rng, uint64_t *timeouts) {
	enum { CALLERS = 4 };
	queue q;
	open_function(&q, 8, kind, rng);
	server s;
	server_init(&s, &q, sizeof(carg), sizeof(cres));
	pthread_t st, lt, ct[CALLERS];
	start_thread(&st, server_main, &s);
	start_thread(&lt, late_main, &s);
	caller ks[CALLERS];
	for (uint32_t i = 0; i < CALLERS; i++) {
		// Delays of up to 4 timeouts: most slow calls time out, some are
		// answered in time, some race the timeout.
		ks[i] = (caller){.token = q.token, .id = i, .n = n, .timeout = NO_LIMIT, .slow_every = 2 + i % 2,
		                 .slow_timeout = 1000000, .slow_max_us = 4000, .rng = next_rand(rng) | 1};
		start_thread(&ct[i], caller_main, &ks[i]);
	}
	for (int i = 0; i < CALLERS; i++)
		pthread_join(ct[i], NULL);
	close_q(&q);
	pthread_join(st, NULL);
	server_finish(&s, lt);
	check_late("call/timeout", &s, &q, ks, CALLERS, timeouts);
	free_q(&q);
}

// call_exit: threads make a slow call that (mostly) times out, maybe one
// more call, and exit, in waves. Joining a wave runs its threads' key destructors, so
// the next wave takes the same slots while the abandoned calls' late
// completions are still on their way.
static void call_exit(int kind, int waves, uint64_t *rng, uint64_t *timeouts, uint32_t *slots, uint32_t *threads) {
	enum { WAVE = 4 };
	queue q;
	open_function(&q, 8, kind, rng);
	server s;
	server_init(&s, &q, sizeof(carg), sizeof(cres));
	pthread_t st, lt;
	start_thread(&st, server_main, &s);
	start_thread(&lt, late_main, &s);
	caller *ks = calloc((size_t)waves * WAVE, sizeof *ks);
	if (ks == NULL)
		fail("call/exit: out of memory");
	for (int w = 0; w < waves; w++) {
		pthread_t ct[WAVE];
		for (int i = 0; i < WAVE; i++) {
			caller *k = &ks[w * WAVE + i];
			// The slow call comes first; half the threads then make a
			// normal call on the slot before they exit.
			*k = (caller){.token = q.token, .id = (uint32_t)(w * WAVE + i), .n = 1 + (uint64_t)(i & 1),
			              .timeout = NO_LIMIT, .slow_every = 2, .slow_timeout = 300000, .slow_max_us = 3000,
			              .rng = next_rand(rng) | 1};
			start_thread(&ct[i], caller_main, k);
		}
		for (int i = 0; i < WAVE; i++)
			pthread_join(ct[i], NULL);
	}
	close_q(&q);
	pthread_join(st, NULL);
	server_finish(&s, lt);
	check_late("call/exit", &s, &q, ks, waves * WAVE, timeouts);
	if (s.distinct_slots >= (uint32_t)(waves * WAVE))
		fail("call/exit [%s]: %d threads used %" PRIu32 " slots: slots of exited threads were not reused",
		     wait_kind(), waves * WAVE, s.distinct_slots);
	*slots += s.distinct_slots;
	*threads += (uint32_t)(waves * WAVE);
	free(ks);
	free_q(&q);
}

// call_close_blocked: callers that wait for room in a ring nobody drains
// are released by fq_close_token with FOREIGN_ECLOSED; the calls already in the
// ring still run when the server starts, and their callers get results.
static void call_close_blocked(int kind, uint64_t *rng) {
	enum { CAP = 2, CALLERS = 6 };
	queue q;
	open_function(&q, CAP, kind, rng);
	_Atomic uint32_t returned = 0;
	caller ks[CALLERS];
	pthread_t ct[CALLERS];
	for (uint32_t i = 0; i < CALLERS; i++) {
		ks[i] = (caller){.token = q.token, .id = i, .n = 1, .allow_closed = 1, .timeout = producer_timeout(i),
		                 .rng = next_rand(rng) | 1, .returned = &returned};
		start_thread(&ct[i], caller_main, &ks[i]);
	}
	await_u32(&q.c->waiters, CALLERS - CAP, "call/close: callers waiting for room");
	sleep_ns(2000000); // let them get into fq_wait32
	if (atomic_load(&returned) != 0)
		fail("call/close [%s]: a call returned with no server", wait_kind());
	uint64_t end = close_q(&q);
	if (end != ((q.start + CAP) & FQ_POS_MASK))
		fail("call/close [%s]: %" PRIu64 " calls accepted into a ring of %d", wait_kind(),
		     (end - q.start) & FQ_POS_MASK, CAP);
	await_u32(&returned, CALLERS - CAP, "call/close: callers released by fq_close_token");

	server s;
	server_init(&s, &q, sizeof(carg), sizeof(cres));
	pthread_t st, lt;
	start_thread(&st, server_main, &s);
	start_thread(&lt, late_main, &s);
	await_u32(&returned, CALLERS, "call/close: accepted calls answered after the close");
	pthread_join(st, NULL);
	server_finish(&s, lt);
	int ok = 0, closed = 0;
	for (int i = 0; i < CALLERS; i++) {
		pthread_join(ct[i], NULL);
		ok += ks[i].ok == 1;
		closed += ks[i].closed;
	}
	if (ok != CAP || closed != CALLERS - CAP || s.served != CAP)
		fail("call/close [%s]: %d answered, %d refused, %" PRIu64 " served; want %d, %d, %d", wait_kind(), ok,
		     closed, s.served, CAP, CALLERS - CAP, CAP);
	if (atomic_load(&q.c->waiters) != 0)
		fail("call/close [%s]: waiters = %" PRIu32 " after the close", wait_kind(), atomic_load(&q.c->waiters));
	carg a = {0};
	cres r;
	if (foreign_call(q.token, &a, sizeof a, &r, sizeof r, NO_LIMIT) != FOREIGN_ECLOSED)
		fail("call/close [%s]: a call to a closed function was not refused", wait_kind());
	free_q(&q);
	if (foreign_call(q.token, &a, sizeof a, &r, sizeof r, NO_LIMIT) != FOREIGN_ECLOSED)
		fail("call/close [%s]: a call to a freed function was not refused", wait_kind());
}

// call_close_rounds: callers calling until refused while the function is
// closed at a random moment. Every accepted call is answered.
static void call_close_rounds(int kind, int rounds, uint64_t *rng) {
	static const uint64_t caps[] = {1, 2, 4};
	for (int r = 0; r < rounds; r++) {
		queue q;
		open_function(&q, caps[next_rand(rng) % 3], (r & 1) ? FQ_WAKE_PIPE : kind, rng);
		server s;
		server_init(&s, &q, sizeof(carg), sizeof(cres));
		pthread_t st, lt, ct[NPROD];
		start_thread(&st, server_main, &s);
		start_thread(&lt, late_main, &s);
		caller ks[NPROD];
		for (uint32_t i = 0; i < NPROD; i++) {
			ks[i] = (caller){.token = q.token, .id = i, .allow_closed = 1, .timeout = producer_timeout(i),
			                 .ops = 1, .rng = next_rand(rng) | 1};
			start_thread(&ct[i], caller_main, &ks[i]);
		}
		sleep_ns((long)(next_rand(rng) % 3000000));
		close_q(&q);
		pthread_join(st, NULL);
		free_q(&q);
		server_finish(&s, lt);
		uint64_t answered = 0;
		for (int i = 0; i < NPROD; i++) {
			pthread_join(ct[i], NULL);
			if (!ks[i].closed)
				fail("call/close round %d [%s]: caller %d ended without FOREIGN_ECLOSED", r, wait_kind(), i);
			answered += ks[i].ok + ks[i].panicked;
		}
		if (answered != s.served)
			fail("call/close round %d [%s]: %" PRIu64 " calls served, %" PRIu64 " answered", r, wait_kind(),
			     s.served, answered);
		if (atomic_load(&q.c->waiters) != 0)
			fail("call/close round %d [%s]: waiters = %" PRIu32 " at the end", r, wait_kind(),
			     atomic_load(&q.c->waiters));
		bump();
	}
}

// ---- call/dtor: calls from a thread's exit ----

// A C library may call from its own thread-exit code: a pthread key
// destructor that runs after call.c's slot destructor (whose key is older,
// and glibc runs destructors in key order). Such a call must not use the
// slot call.c has already put back on the free list, which a new thread
// may own meanwhile.
//
// (call.c once kept using its cached slot after releasing it; this caught it.)
static pthread_key_t dtor_key;

static void dtor_call(void *p);
static void dtor_key_init(void) {
	if (pthread_key_create(&dtor_key, dtor_call) != 0)
		fail("pthread_key_create failed");
}

static void one_call(uintptr_t token, uint32_t id, uint64_t seq, const char *when) {
	carg a = {.caller = id, .seq = seq};
	a.check = carg_check(&a);
	cres r, want;
	// A finite timeout: a call that lost its slot to another thread may
	// wait for a result that went to the other owner.
	int rc = foreign_call(token, &a, sizeof a, &r, sizeof r, 5 * INT64_C(1000000000));
	answer(&a, sizeof a, &want, sizeof want);
	if (rc != 0 || memcmp(&r, &want, sizeof r) != 0)
		fail("call/dtor [%s]: thread %" PRIu32 ": call %s: foreign_call = %d (%s), result %s", wait_kind(), id,
		     when, rc, foreign_strerror(rc), rc == 0 ? "wrong" : "none");
	bump();
}

static void dtor_call(void *p) {
	caller *k = p;
	one_call(k->token, k->id, 1u << 31, "from a key destructor at thread exit");
}

static void *dtor_thread(void *arg) {
	caller *k = arg;
	pthread_setspecific(dtor_key, k);
	one_call(k->token, k->id, 0, "before exit");
	return NULL;
}

static void call_dtor(int kind, int waves, uint64_t *rng) {
	enum { WAVE = 4 };
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	queue q;
	open_function(&q, 8, kind, rng);
	server s;
	server_init(&s, &q, sizeof(carg), sizeof(cres));
	pthread_t st, lt;
	start_thread(&st, server_main, &s);
	start_thread(&lt, late_main, &s);
	// The first call of the process created call.c's key; ours is newer.
	one_call(q.token, UINT32_MAX, 0, "from main");
	pthread_once(&once, dtor_key_init);
	caller ks[WAVE];
	for (int w = 0; w < waves; w++) {
		pthread_t ct[WAVE];
		for (int i = 0; i < WAVE; i++) {
			ks[i] = (caller){.token = q.token, .id = (uint32_t)(w * WAVE + i)};
			start_thread(&ct[i], dtor_thread, &ks[i]);
		}
		for (int i = 0; i < WAVE; i++)
			pthread_join(ct[i], NULL);
	}
	close_q(&q);
	pthread_join(st, NULL);
	server_finish(&s, lt);
	if (s.served != 1 + 2 * (uint64_t)waves * WAVE)
		fail("call/dtor [%s]: served %" PRIu64 " calls, want %d", wait_kind(), s.served, 1 + 2 * waves * WAVE);
	free_q(&q);
}

// ---- call/sizes: an empty function and the largest result ----

typedef struct {
	uintptr_t token;
	size_t arglen, retlen;
	int n;
	uint64_t rng;
} raw_caller;

static void *raw_caller_main(void *arg) {
	raw_caller *k = arg;
	// r has a guard after the result: a completion must write retlen bytes,
	// no more (ASan sees only the ends of the whole array).
	enum { GUARD = 8 };
	unsigned char a[MAX_ARG], r[BIG_RET + GUARD], want[BIG_RET];
	for (int i = 0; i < k->n; i++) {
		for (size_t j = 0; j < k->arglen; j++)
			a[j] = (unsigned char)next_rand(&k->rng);
		memset(r, 0xa5, k->retlen + GUARD);
		int rc = foreign_call(k->token, k->arglen ? a : NULL, k->arglen, k->retlen ? r : NULL, k->retlen,
		                      NO_LIMIT);
		if (rc != 0)
			fail("call/sizes [%s]: arg %zu ret %zu: foreign_call = %d (%s)", wait_kind(), k->arglen, k->retlen,
			     rc, foreign_strerror(rc));
		answer(a, k->arglen, want, k->retlen);
		if (memcmp(r, want, k->retlen) != 0)
			fail("call/sizes [%s]: arg %zu ret %zu: wrong result", wait_kind(), k->arglen, k->retlen);
		for (size_t j = k->retlen; j < k->retlen + GUARD; j++)
			if (r[j] != 0xa5)
				fail("call/sizes [%s]: arg %zu ret %zu: the result overran ret", wait_kind(), k->arglen,
				     k->retlen);
		bump();
	}
	return NULL;
}

static void call_sizes(int kind, int n, uint64_t *rng) {
	static const struct {
		size_t arglen, retlen;
		uint64_t cap;
	} fns[] = {{0, 0, 2}, {8, BIG_RET, 1}, {MAX_ARG, 8, 4}};
	for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
		enum { CALLERS = 3 };
		queue q;
		open_q(&q, 8 + fns[f].arglen, fns[f].cap, function_start(rng), kind, (int64_t)fns[f].arglen,
		       (int64_t)fns[f].retlen);
		server s;
		server_init(&s, &q, fns[f].arglen, fns[f].retlen);
		pthread_t st, lt, ct[CALLERS];
		start_thread(&st, server_main, &s);
		start_thread(&lt, late_main, &s);
		raw_caller ks[CALLERS];
		for (int i = 0; i < CALLERS; i++) {
			ks[i] = (raw_caller){.token = q.token, .arglen = fns[f].arglen, .retlen = fns[f].retlen, .n = n,
			                     .rng = next_rand(rng) | 1};
			start_thread(&ct[i], raw_caller_main, &ks[i]);
		}
		for (int i = 0; i < CALLERS; i++)
			pthread_join(ct[i], NULL);
		close_q(&q);
		pthread_join(st, NULL);
		server_finish(&s, lt);
		if (s.served != (uint64_t)(CALLERS * n))
			fail("call/sizes: served %" PRIu64 " of %d", s.served, CALLERS * n);
		free_q(&q);
	}
}

// ---- call/bad: refusals --------------------------------------------------------

static void expect_rc(const char *what, int got, int want) {
	if (got != want)
		fail("call/bad: %s: got %d (%s), want %d (%s)", what, got, foreign_strerror(got), want,
		     foreign_strerror(want));
}

static void call_bad(void) {
	uintptr_t t;
	fq_ctl *c;
	// fq_open's checks of a function's sizes: the message must hold the
	// header and the argument; the result has a ceiling.
	if (fq_open8(8 + sizeof(carg) - 1, 4, 0, FQ_WAKE_EVENTFD, sizeof(carg), sizeof(cres), &t, &c) != -EINVAL ||
	    fq_open8(CMSG, 4, 0, FQ_WAKE_EVENTFD, -1, sizeof(cres), &t, &c) != -EINVAL ||
	    fq_open8(CMSG, 4, 0, FQ_WAKE_EVENTFD, sizeof(carg), FQ_MAX_RET + 1, &t, &c) != -EINVAL)
		fail("call/bad: fq_open accepted a bad function");

	queue plain, fn;
	open_q(&plain, sizeof(msg), 4, 0, FQ_WAKE_EVENTFD, 0, -1);
	open_q(&fn, CMSG, 4, 0, FQ_WAKE_PIPE, sizeof(carg), sizeof(cres));
	carg a = {.seq = 1};
	a.check = carg_check(&a);
	cres r;
	msg m = {0};
	unsigned char raw[CMSG] = {0};

	expect_rc("call to a plain queue", foreign_call(plain.token, &a, sizeof a, &r, sizeof r, 0), FOREIGN_EINVAL);
	expect_rc("call to a plain queue, message-sized",
	          foreign_call(plain.token, &m, sizeof m, &r, sizeof r, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("post to a function", foreign_post(fn.token, &a, sizeof a), FOREIGN_EINVAL);
	expect_rc("post of a whole call message to a function", foreign_post(fn.token, raw, sizeof raw), FOREIGN_EINVAL);
	expect_rc("empty post to a function", foreign_post(fn.token, NULL, 0), FOREIGN_EINVAL);
	expect_rc("waiting post to a function", foreign_post_wait(fn.token, &a, sizeof a, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("arglen - 1", foreign_call(fn.token, &a, sizeof a - 1, &r, sizeof r, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("arglen + 1", foreign_call(fn.token, &a, sizeof a + 1, &r, sizeof r, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("arglen 0", foreign_call(fn.token, &a, 0, &r, sizeof r, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("retlen - 1", foreign_call(fn.token, &a, sizeof a, &r, sizeof r - 1, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("retlen + 1", foreign_call(fn.token, &a, sizeof a, &r, sizeof r + 1, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("retlen 0", foreign_call(fn.token, &a, sizeof a, NULL, 0, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("NULL arg", foreign_call(fn.token, NULL, sizeof a, &r, sizeof r, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("NULL ret", foreign_call(fn.token, &a, sizeof a, NULL, sizeof r, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("token 0", foreign_call(0, &a, sizeof a, &r, sizeof r, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("token 1", foreign_call(1, &a, sizeof a, &r, sizeof r, NO_LIMIT), FOREIGN_EINVAL);
	if ((atomic_load(&fn.c->tail) & FQ_POS_MASK) != fn.start || (atomic_load(&plain.c->tail) & FQ_POS_MASK) != plain.start)
		fail("call/bad: a refused call or post claimed a cell");

	// A function nobody serves: calls are accepted and time out, and their
	// results, when they come, are dropped.
	expect_rc("call with timeout 0", foreign_call(fn.token, &a, sizeof a, &r, sizeof r, 0), FOREIGN_ETIMEDOUT);
	expect_rc("call with a 1 ms timeout", foreign_call(fn.token, &a, sizeof a, &r, sizeof r, 1000000),
	          FOREIGN_ETIMEDOUT);
	if (atomic_load(&fn.c->timed_out) != 2)
		fail("call/bad: timed_out = %" PRIu64 ", want 2", atomic_load(&fn.c->timed_out));
	uint64_t hdr[2];
	for (int i = 0; i < 2; i++) {
		if (take(fn.c, raw) != 1)
			fail("call/bad: timed-out call %d is not in the ring", i);
		memcpy(&hdr[i], raw, 8);
		if (memcmp(raw + 8, &a, sizeof a) != 0)
			fail("call/bad: the ring holds another argument than the call's");
	}
	answer(&a, sizeof a, &r, sizeof r);
	expect_rc("completion longer than the caller's buffer, after it gave up", fq_complete(hdr[1], 0, &r, BIG_RET), 1);
	expect_rc("completion of a slot that does not exist", fq_complete(hdr[1] | HDR_IDX_MASK, 0, &r, sizeof r), 1);
	expect_rc("completion of a slot not allocated yet",
	          fq_complete((hdr[1] & ~HDR_IDX_MASK) | ((1u << SLOT_BITS) - 1), 0, &r, sizeof r), 1);
	expect_rc("late completion, older call", fq_complete(hdr[0], 0, &r, sizeof r), 1);
	expect_rc("late completion", fq_complete(hdr[1], 0, &r, sizeof r), 1);
	expect_rc("late completion again", fq_complete(hdr[1], 0, &r, sizeof r), 1);

	// A full function: a call that gives up waiting for room leaves nothing
	// in the ring, and its slot is free for the thread's next call.
	queue one;
	open_q(&one, CMSG, 1, 0, FQ_WAKE_EVENTFD, sizeof(carg), sizeof(cres));
	expect_rc("call to fill a function of capacity 1", foreign_call(one.token, &a, sizeof a, &r, sizeof r, 0),
	          FOREIGN_ETIMEDOUT);
	const int64_t room_timeout = 2000000;
	int64_t t0 = mono_ns();
	expect_rc("call waiting for room", foreign_call(one.token, &a, sizeof a, &r, sizeof r, room_timeout),
	          FOREIGN_ETIMEDOUT);
	if (mono_ns() - t0 < room_timeout)
		fail("call/bad: a call waiting for room gave up before its timeout");
	if ((atomic_load(&one.c->tail) & FQ_POS_MASK) != one.start + 1 || atomic_load(&one.c->timed_out) != 2 ||
	    atomic_load(&one.c->waiters) != 0)
		fail("call/bad: after a timeout waiting for room: %" PRIu64 " calls in the ring, timed_out %" PRIu64
		     ", waiters %" PRIu32 "; want 1, 2, 0",
		     (atomic_load(&one.c->tail) & FQ_POS_MASK) - one.start, atomic_load(&one.c->timed_out),
		     atomic_load(&one.c->waiters));
	if (take(one.c, raw) != 1)
		fail("call/bad: the accepted call is not in the ring");
	memcpy(&hdr[0], raw, 8);
	expect_rc("late completion of the accepted call", fq_complete(hdr[0], 0, &r, sizeof r), 1);
	close_q(&one);
	if (take(one.c, raw) != -1)
		fail("call/bad: the refused call is in the ring");
	free_q(&one);

	// A function refuses calls once closed, and a freed one too.
	close_q(&fn);
	expect_rc("call to a closed function", foreign_call(fn.token, &a, sizeof a, &r, sizeof r, NO_LIMIT),
	          FOREIGN_ECLOSED);
	if (take(fn.c, raw) != -1)
		fail("call/bad: closed function not drained");
	free_q(&fn);
	expect_rc("call to a freed function", foreign_call(fn.token, &a, sizeof a, &r, sizeof r, NO_LIMIT),
	          FOREIGN_ECLOSED);
	close_q(&plain);
	free_q(&plain);
	// Stale and the wrong kind: either answer refuses it.
	int rc = foreign_call(plain.token, &a, sizeof a, &r, sizeof r, NO_LIMIT);
	if (rc != FOREIGN_EINVAL && rc != FOREIGN_ECLOSED)
		fail("call/bad: call to a freed plain queue: got %d (%s), want EINVAL or ECLOSED", rc,
		     foreign_strerror(rc));
}

// ---- main ----------------------------------------------------------------------

// The sizes at scale 1, chosen to keep a run to a few seconds under either
// sanitizer on two cores. Most of it goes to wait/order at capacity 1,
// where each cell freed wakes all eight waiting producers.
enum {
	WAIT_MSGS = 3000,       // per producer, per capacity
	WAIT_SOLO_MSGS = 20000, // from a single producer
	WAIT_ROUNDS = 40,       // wait/close rounds
	SERVE_CALLS = 800,      // per caller, per capacity
	TIMEOUT_CALLS = 300,    // per caller
	EXIT_WAVES = 80,        // of 4 threads
	CLOSE_ROUNDS = 30,      // call/close rounds
	SIZES_CALLS = 100,      // per caller, per function
	DTOR_WAVES = 100,       // of 4 threads, each with a call at exit
};

// begin names the phase now running, for the watchdog, and reports how long
// the previous one took, so that CI logs show where the time goes.
static void begin(const char *name) {
	static const char *cur;
	// Each label is written once, before it is published to the watchdog,
	// and never reused: there are fewer phases than labels.
	static char labels[32][48];
	static int nlabels;
	static int64_t since;
	int64_t now = mono_ns();
	if (cur != NULL)
		printf("calls: %-12s %-7s ok (%.2fs)\n", cur, fq_using_futex() ? "futex" : "condvar",
		       (double)(now - since) / 1e9);
	cur = name;
	since = now;
	if (name != NULL) {
		if (nlabels == 32)
			fail("more phases than labels");
		char *label = labels[nlabels++];
		snprintf(label, sizeof labels[0], "%s [%s]", name, wait_kind());
		atomic_store(&phase, label);
	}
}

int main(int argc, char **argv) {
	// Line-buffered: a failure _exits, and the phases that passed before it
	// should still be in the log.
	setvbuf(stdout, NULL, _IOLBF, 0);
	seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (argc > 1)
		scale = atoi(argv[1]);
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 10);
	if (argc > 3 || scale < 1) {
		fprintf(stderr, "usage: calls [scale [seed]]\n");
		return 2;
	}
	if (seed == 0)
		seed = 1; // xorshift's one fixed point
	uint64_t rng = seed;

	pthread_t wd;
	start_thread(&wd, watchdog_main, NULL);
	double t0 = now_sec();
	int dtor_calls = 1; // see call/dtor
	static const uint64_t caps[] = {1, 2, 4};
	uint64_t timeouts = 0;
	uint32_t slots = 0, threads = 0;

	// fq_use_futex is only changed here, between phases, when no thread is
	// inside fq_wait32 or fq_wake32.
	for (int futex = 1; futex >= 0; futex--) {
		fq_set_futex(futex);
		begin("wait/order");
		for (int i = 0; i < 3; i++)
			pw_order(caps[i], (i & 1) ? FQ_WAKE_PIPE : FQ_WAKE_EVENTFD, i == 2 ? FQ_POS_MASK + 1 - 1000 : 0,
			         NPROD, WAIT_MSGS * (uint64_t)scale, &rng);
		pw_order(1, FQ_WAKE_EVENTFD, 0, 1, WAIT_SOLO_MSGS * (uint64_t)scale, &rng);
		begin("wait/timeout");
		pw_timeouts(futex ? FQ_WAKE_EVENTFD : FQ_WAKE_PIPE);
		begin("wait/close");
		pw_close_rounds(WAIT_ROUNDS * scale, &rng);
		begin("call/serve");
		for (int i = 0; i < 3; i++)
			call_serve(caps[i], (i & 1) ? FQ_WAKE_PIPE : FQ_WAKE_EVENTFD, SERVE_CALLS * (uint64_t)scale, &rng);
		begin("call/timeout");
		call_timeout(FQ_WAKE_EVENTFD, TIMEOUT_CALLS * (uint64_t)scale, &rng, &timeouts);
		begin("call/exit");
		call_exit(FQ_WAKE_PIPE, EXIT_WAVES * scale, &rng, &timeouts, &slots, &threads);
		begin("call/close");
		call_close_blocked(FQ_WAKE_EVENTFD, &rng);
		call_close_rounds(FQ_WAKE_EVENTFD, CLOSE_ROUNDS * scale, &rng);
		if (dtor_calls) {
			begin("call/dtor");
			call_dtor(FQ_WAKE_EVENTFD, DTOR_WAVES * scale, &rng);
		}
		begin("call/sizes");
		call_sizes(futex ? FQ_WAKE_EVENTFD : FQ_WAKE_PIPE, SIZES_CALLS * scale, &rng);
		begin(NULL);
	}
	fq_set_futex(1);
	begin("call/bad");
	call_bad();
	begin(NULL);

	atomic_store(&watchdog_stop, 1);
	pthread_join(wd, NULL);
	printf("calls: ok: futex and condvar: wait/order 3x%dx%d+%d msgs, wait/close %d rounds, "
	       "call/serve 3x%dx%d calls, %" PRIu64 " call timeouts, call/exit %" PRIu32 " threads on %" PRIu32
	       " slots, call/close %d rounds; seed %" PRIu64 ", %.1fs\n",
	       NPROD, WAIT_MSGS * scale, WAIT_SOLO_MSGS * scale, WAIT_ROUNDS * scale, NPROD, SERVE_CALLS * scale, timeouts, threads, slots,
	       CLOSE_ROUNDS * scale, seed, now_sec() - t0);
	return 0;
}
