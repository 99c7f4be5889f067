// stress.c: a C-only stress test of the C ABI (foreign.h) and the ring
// (internal/fq/c/block.h), built with the library's C (fq.c) and no Go, so that ThreadSanitizer and
// AddressSanitizer+UBSan see every access the protocol makes. .ci/csan.sh
// builds and runs it under each.
//
// Usage: stress [messages-per-producer [close-rounds [seed]]]
//
// Phases:
//   order   4 producers post N messages each into a small ring (so it fills
//           and they meet FOREIGN_EFULL); one consumer (fq_c_recv/fq_c_park)
//           checks per-producer order, no loss, no duplication. Run with an
//           eventfd, with a pipe, and with positions starting just below the
//           44-bit wrap.
//   close   many rounds of producers posting until FOREIGN_ECLOSED while the
//           main thread closes after a random delay; every accepted message
//           must be received, in order. The block is freed and reopened each
//           round, so blocks are reused and their generations move, while a
//           stale-token thread keeps posting to tokens of freed queues.
//   bad     invalid tokens, stale tokens, NULL and wrong-length messages,
//           foreign_strerror, and tokens racing with chunk allocation.
//
// A failure prints "stress: FAIL: ..." and exits 1; a watchdog turns a hang
// (a lost wake-up, a livelock) into a failure rather than a CI timeout
// (harness.h). The newer blocking paths, foreign_post_wait and
// foreign_call, have their own test: calls.c.

#define _POSIX_C_SOURCE 200809L

#include "fq.c" // the library's C, one translation unit: its functions are static
#include "cconsumer.c"

#define HARNESS_NAME "stress"
#include "harness.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>

enum {
	NPROD = 4,
	CAPACITY = 64,         // small, so producers keep running into a full ring
	SPIN_BEFORE_PARK = 64, // empty polls before the consumer parks
};

// The message: which producer, and its sequence number. pad carries a check
// value so a torn or misplaced copy is caught, not just a wrong seq.
typedef struct {
	uint32_t producer;
	uint32_t pad;
	uint64_t seq;
} msg;

static uint32_t check_of(uint32_t producer, uint64_t seq) {
	return (uint32_t)(seq * 2654435761u) ^ (producer << 28) ^ 0x5a5a5a5au;
}

// ---- a queue under test --------------------------------------------------

typedef struct {
	uintptr_t token;
	fq_ctl *c;
	uint64_t start;
	int kind;
	uint64_t capacity;
} queue;

static void open_queue(queue *q, uint64_t capacity, uint64_t start, int kind) {
	int rc = fq_open8(sizeof(msg), capacity, start, kind, 0, -1, &q->token, &q->c);
	if (rc != 0)
		fail("fq_open(cap %" PRIu64 ", kind %d): %s", capacity, kind, strerror(-rc));
	if (q->token == 0)
		fail("fq_open returned token 0");
	if (fq_lookup(q->token) != q->c)
		fail("fq_lookup(%#" PRIxPTR ") does not find the block fq_open returned", q->token);
	// Widened: the field's width is the library's business, not the test's.
	int64_t got = (int64_t)atomic_load(&q->c->wake_kind);
	if (got != kind)
		fail("asked for wake kind %d, got %" PRId64, kind, got);
	q->start = start & FQ_POS_MASK;
	q->kind = kind;
	q->capacity = capacity;
}

// close_queue is what Go's Close does: set closed, then wake the consumer so
// that a parked one sees it. It returns the final position.
static uint64_t close_queue(queue *q) {
	uint64_t end = fq_close8(q->token);
	fq_wake(q->c);
	return end;
}

// free_queue is what Go's teardown does after the drain. fq_free closes only
// the pipe's write end; the read end (the eventfd itself) belongs to the
// consumer, so it is read out before the block can be reused.
static void free_queue(queue *q) {
	int rfd = (int)atomic_load(&q->c->read_fd);
	fq_free(q->token);
	if (close(rfd) != 0)
		fail("close(read fd %d): %s", rfd, strerror(errno));
}

// ---- consumer ------------------------------------------------------------

typedef struct {
	queue *q;
	uint64_t next[NPROD]; // the next seq expected from each producer
	uint64_t received;
} consumer;

static void *consumer_main(void *arg) {
	consumer *k = arg;
	fq_ctl *c = k->q->c;
	int idle = 0;
	for (;;) {
		msg m;
		int rc = fq_c_recv(c, &m);
		if (rc < 0)
			break; // closed and drained
		if (rc == 0) {
			// Spin a little first: parking costs the producers a syscall.
			if (++idle < SPIN_BEFORE_PARK) {
				sched_yield();
				continue;
			}
			idle = 0;
			fq_c_park(c);
			continue;
		}
		idle = 0;
		if (m.producer >= NPROD)
			fail("received a message from producer %" PRIu32 " of %d", m.producer, NPROD);
		if (m.seq != k->next[m.producer])
			fail("producer %" PRIu32 ": got seq %" PRIu64 ", want %" PRIu64 " (%s)", m.producer, m.seq,
			     k->next[m.producer], m.seq < k->next[m.producer] ? "duplicate or reordered" : "lost");
		if (m.pad != check_of(m.producer, m.seq))
			fail("producer %" PRIu32 " seq %" PRIu64 ": corrupt message (check %#" PRIx32 ")", m.producer,
			     m.seq, m.pad);
		k->next[m.producer]++;
		k->received++;
		bump();
	}
	return NULL;
}

// ---- phase 1: order ------------------------------------------------------

typedef struct {
	uintptr_t token;
	uint32_t id;
	uint64_t n;    // order phase: messages to post; close phase: unused
	uint64_t sent; // messages accepted (foreign_post returned 0)
	uint64_t full; // FOREIGN_EFULL returns
} producer;

// post_one offers the producer's next message.
static int post_one(producer *p) {
	msg m = {.producer = p->id, .pad = check_of(p->id, p->sent), .seq = p->sent};
	return foreign_post(p->token, &m, sizeof m);
}

static void *order_producer(void *arg) {
	producer *p = arg;
	while (p->sent < p->n) {
		int rc = post_one(p);
		switch (rc) {
		case 0:
			p->sent++;
			bump();
			// Pause now and then, so the ring runs empty and the consumer
			// parks: the wake-up path is exercised, not only the spin.
			if (p->sent % 2048 == 0)
				sleep_ns(20000 + 10000 * (long)p->id);
			break;
		case FOREIGN_EFULL:
			p->full++;
			sched_yield();
			break;
		default:
			fail("order: producer %" PRIu32 ": foreign_post = %d (%s)", p->id, rc, foreign_strerror(rc));
		}
	}
	return NULL;
}

static void order_run(const char *name, int kind, uint64_t start, uint64_t n, uint64_t *full, uint64_t *wakeups) {
	atomic_store(&phase, name);
	queue q;
	open_queue(&q, CAPACITY, start, kind);
	consumer k = {.q = &q};
	producer ps[NPROD];
	pthread_t ct, pt[NPROD];
	start_thread(&ct, consumer_main, &k);
	for (uint32_t i = 0; i < NPROD; i++) {
		ps[i] = (producer){.token = q.token, .id = i, .n = n};
		start_thread(&pt[i], order_producer, &ps[i]);
	}
	for (int i = 0; i < NPROD; i++)
		pthread_join(pt[i], NULL);
	uint64_t end = close_queue(&q);
	pthread_join(ct, NULL);

	uint64_t want_end = (q.start + NPROD * n) & FQ_POS_MASK;
	if (end != want_end)
		fail("%s: fq_close_token returned final position %#" PRIx64 ", want %#" PRIx64, name, end, want_end);
	for (int i = 0; i < NPROD; i++)
		if (k.next[i] != n)
			fail("%s: producer %d: received %" PRIu64 " of %" PRIu64, name, i, k.next[i], n);
	msg m = {0};
	int rc = foreign_post(q.token, &m, sizeof m);
	if (rc != FOREIGN_ECLOSED)
		fail("%s: post after close = %d, want FOREIGN_ECLOSED", name, rc);
	for (int i = 0; i < NPROD; i++)
		*full += ps[i].full;
	*wakeups += atomic_load(&q.c->wakeups);
	free_queue(&q);
}

// ---- phase 2: close racing producers -------------------------------------

static void *close_producer(void *arg) {
	producer *p = arg;
	for (;;) {
		int rc = post_one(p);
		if (rc == 0) {
			p->sent++;
			bump();
		} else if (rc == FOREIGN_EFULL) {
			p->full++;
			sched_yield();
		} else if (rc == FOREIGN_ECLOSED) {
			return NULL;
		} else {
			fail("close: producer %" PRIu32 ": foreign_post = %d (%s)", p->id, rc, foreign_strerror(rc));
		}
	}
}

// The stale poster keeps posting to tokens of queues that were closed and
// freed, while their blocks are reopened under new generations. Every post
// must be refused; one that is accepted would land in another queue.
static _Atomic uintptr_t stale_token;
static _Atomic int stale_stop;
static _Atomic uint64_t stale_posts;

static void *stale_main(void *arg) {
	(void)arg;
	while (!atomic_load(&stale_stop)) {
		uintptr_t t = atomic_load(&stale_token);
		if (t == 0) {
			sched_yield();
			continue;
		}
		msg m = {.producer = NPROD + 1};
		int rc = foreign_post(t, &m, sizeof m);
		if (rc != FOREIGN_ECLOSED && rc != FOREIGN_EINVAL)
			fail("stale token %#" PRIxPTR ": foreign_post = %d (%s)", t, rc, foreign_strerror(rc));
		atomic_fetch_add_explicit(&stale_posts, 1, memory_order_relaxed);
		if ((atomic_load_explicit(&stale_posts, memory_order_relaxed) & 63) == 0)
			sched_yield(); // leave the cores to the round under test
	}
	return NULL;
}

static void close_rounds(int rounds, uint64_t *rng, uint64_t *accepted, int *reused) {
	atomic_store(&phase, "close");
	static const uint64_t caps[] = {1, 2, CAPACITY};
	pthread_t st;
	start_thread(&st, stale_main, NULL);
	uintptr_t prev = 0;
	for (int r = 0; r < rounds; r++) {
		int kind = (r & 1) ? FQ_WAKE_PIPE : FQ_WAKE_EVENTFD;
		uint64_t cap = caps[next_rand(rng) % 3];
		// One round in four starts just below the wrap, so it crosses it.
		uint64_t start = (r % 4 == 3) ? FQ_POS_MASK + 1 - (next_rand(rng) % 64) : next_rand(rng) % 1000;
		queue q;
		open_queue(&q, cap, start, kind);
		if (prev != 0 && (prev & (FQ_MAX_QUEUES - 1)) == (q.token & (FQ_MAX_QUEUES - 1))) {
			if (prev == q.token)
				fail("close: a reused block kept its token %#" PRIxPTR, prev);
			(*reused)++;
		}

		consumer k = {.q = &q};
		producer ps[NPROD];
		pthread_t ct, pt[NPROD];
		start_thread(&ct, consumer_main, &k);
		for (uint32_t i = 0; i < NPROD; i++) {
			ps[i] = (producer){.token = q.token, .id = i};
			start_thread(&pt[i], close_producer, &ps[i]);
		}
		// Close at a random moment: before the producers start, while the
		// ring is filling, or while it is full.
		sleep_ns((long)(next_rand(rng) % 400000));
		uint64_t end = close_queue(&q);
		pthread_join(ct, NULL);
		// The consumer has seen every claimed cell published, so the ring
		// can go while producers may still be inside foreign_post (after
		// their publish, or refused): that is what the Go side does too.
		free_queue(&q);
		atomic_store(&stale_token, q.token);
		for (int i = 0; i < NPROD; i++)
			pthread_join(pt[i], NULL);

		uint64_t total = 0;
		for (int i = 0; i < NPROD; i++) {
			if (ps[i].sent != k.next[i])
				fail("close round %d: producer %d: %" PRIu64 " accepted, %" PRIu64 " received", r, i,
				     ps[i].sent, k.next[i]);
			total += ps[i].sent;
		}
		if (end != ((q.start + total) & FQ_POS_MASK))
			fail("close round %d: final position %#" PRIx64 " but %" PRIu64 " accepted from %#" PRIx64, r, end,
			     total, q.start);
		*accepted += total;
		prev = q.token;
		bump();
	}
	atomic_store(&stale_stop, 1);
	pthread_join(st, NULL);
}

// ---- phase 3: bad input --------------------------------------------------

static void expect_rc(const char *what, int got, int want) {
	if (got != want)
		fail("bad input: %s: got %d (%s), want %d (%s)", what, got, foreign_strerror(got), want,
		     foreign_strerror(want));
}

static void expect_refused(const char *what, uintptr_t t) {
	msg m = {0};
	int rc = foreign_post(t, &m, sizeof m);
	if (rc != FOREIGN_EINVAL && rc != FOREIGN_ECLOSED)
		fail("bad input: %s %#" PRIxPTR ": got %d (%s), want EINVAL or ECLOSED", what, t, rc,
		     foreign_strerror(rc));
}

// Posts random tokens whose index falls in the first few chunks while the
// main thread opens queues and so allocates those chunks: the chunk pointer
// is published while lookups read it.
static _Atomic int chunk_stop;

static void *chunk_poster(void *arg) {
	uint64_t s = *(uint64_t *)arg;
	while (!atomic_load(&chunk_stop)) {
		uint64_t idx = next_rand(&s) % (3 * FQ_CHUNK_LEN);
		// A generation far ahead of any issued one (no queue is reopened
		// that often here): never a live token.
		uint64_t gen = (FQ_GEN_MASK >> 1) + next_rand(&s) % 1000;
		expect_refused("token with an unissued generation", (uintptr_t)((gen << FQ_IDX_BITS) | idx));
		bump();
	}
	return NULL;
}

static void bad_input(uint64_t *rng) {
	atomic_store(&phase, "bad");
	msg m = {0};
	for (int code = -10; code <= 1; code++)
		if (foreign_strerror(code) == NULL)
			fail("foreign_strerror(%d) = NULL", code);
	if (foreign_strerror(INT_MIN) == NULL || foreign_strerror(INT_MAX) == NULL)
		fail("foreign_strerror of an extreme code = NULL");
	const int codes[] = {FOREIGN_EINVAL, FOREIGN_ECLOSED, FOREIGN_EFULL, FOREIGN_ETIMEDOUT, FOREIGN_EDEADLK,
	                     FOREIGN_EPANIC};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		for (size_t j = 0; j < i; j++)
			if (codes[i] == codes[j] || strcmp(foreign_strerror(codes[i]), foreign_strerror(codes[j])) == 0)
				fail("codes %d and %d are not distinct", codes[i], codes[j]);

	expect_rc("token 0", foreign_post(0, &m, sizeof m), FOREIGN_EINVAL);
	for (uintptr_t t = 1; t < 70000; t += (t < 1024 ? 1 : 997))
		expect_rc("small integer token", foreign_post(t, &m, sizeof m), FOREIGN_EINVAL);
	expect_rc("token ~0", foreign_post(UINTPTR_MAX, &m, sizeof m), FOREIGN_EINVAL);
	for (int i = 0; i < 200000; i++)
		expect_refused("random token", (uintptr_t)next_rand(rng));
	// Random tokens of the right shape (gen and index in range): most name a
	// block that exists; none names a live queue, none is in range.
	for (int i = 0; i < 200000; i++)
		expect_refused("random token in range", (uintptr_t)(next_rand(rng) & ((UINT64_C(1) << (FQ_IDX_BITS + FQ_GEN_BITS)) - 1)));

	queue q;
	open_queue(&q, CAPACITY, 0, FQ_WAKE_EVENTFD);
	expect_rc("NULL message", foreign_post(q.token, NULL, sizeof m), FOREIGN_EINVAL);
	expect_rc("length 0", foreign_post(q.token, &m, 0), FOREIGN_EINVAL);
	expect_rc("length - 1", foreign_post(q.token, &m, sizeof m - 1), FOREIGN_EINVAL);
	expect_rc("length + 1", foreign_post(q.token, &m, sizeof m + 1), FOREIGN_EINVAL);
	expect_rc("length SIZE_MAX", foreign_post(q.token, &m, SIZE_MAX), FOREIGN_EINVAL);
	uint64_t gen = ((uint64_t)q.token >> FQ_IDX_BITS) & FQ_GEN_MASK;
	uint64_t idx = (uint64_t)q.token & (FQ_MAX_QUEUES - 1);
	uintptr_t ahead = (uintptr_t)((((gen + 1) & FQ_GEN_MASK) << FQ_IDX_BITS) | idx);
	expect_rc("next generation's token", foreign_post(ahead, &m, sizeof m), FOREIGN_EINVAL);
	expect_rc("unused index", foreign_post((uintptr_t)((gen << FQ_IDX_BITS) | (FQ_MAX_QUEUES - 1)), &m, sizeof m),
	          FOREIGN_EINVAL);
	for (int i = 0; i < CAPACITY; i++)
		expect_rc("fill", foreign_post(q.token, &m, sizeof m), 0);
	expect_rc("post to a full queue", foreign_post(q.token, &m, sizeof m), FOREIGN_EFULL);
	if (atomic_load(&q.c->rejected_full) != 1)
		fail("bad input: rejected_full = %" PRIu64 ", want 1", atomic_load(&q.c->rejected_full));
	uint64_t end = close_queue(&q);
	if (end != CAPACITY)
		fail("bad input: final position %" PRIu64 ", want %d", end, CAPACITY);
	if (fq_close8(q.token) != end)
		fail("bad input: a second fq_close_token moved the final position");
	expect_rc("closed queue", foreign_post(q.token, &m, sizeof m), FOREIGN_ECLOSED);
	// A closed queue is checked before the arguments: ECLOSED tells the
	// caller to stop, which is the more useful answer.
	int rc = foreign_post(q.token, NULL, sizeof m);
	if (rc != FOREIGN_ECLOSED && rc != FOREIGN_EINVAL)
		fail("bad input: NULL message to a closed queue: %d", rc);
	for (int i = 0; i < CAPACITY; i++)
		if (fq_c_recv(q.c, &m) != 1)
			fail("bad input: message %d of the closed queue not received", i);
	if (fq_c_recv(q.c, &m) != -1)
		fail("bad input: drained closed queue does not report -1");
	if (fq_c_park(q.c) != 0)
		fail("bad input: fq_c_park on a closed queue");
	uintptr_t stale = q.token;
	free_queue(&q);
	expect_refused("stale token after free", stale);
	expect_rc("stale token after free", foreign_post(stale, &m, sizeof m), FOREIGN_ECLOSED);
	open_queue(&q, CAPACITY, 0, FQ_WAKE_PIPE);
	expect_refused("stale token after reuse", stale);
	if ((q.token & (FQ_MAX_QUEUES - 1)) == (stale & (FQ_MAX_QUEUES - 1)))
		expect_rc("stale token of a reused block", foreign_post(stale, &m, sizeof m), FOREIGN_ECLOSED);
	close_queue(&q);
	free_queue(&q);

	// fq_open's own argument checks (the Go side checks first; this is the
	// last line of defence).
	uintptr_t t;
	fq_ctl *c;
	if (fq_open8(sizeof m, 3, 0, FQ_WAKE_EVENTFD, 0, -1, &t, &c) != -EINVAL ||
	    fq_open8(sizeof m, 0, 0, FQ_WAKE_EVENTFD, 0, -1, &t, &c) != -EINVAL ||
	    fq_open8(FQ_MAX_MSG + 1, 8, 0, FQ_WAKE_EVENTFD, 0, -1, &t, &c) != -EINVAL ||
	    fq_open8(sizeof m, (uint64_t)FQ_MAX_CAPACITY * 2, 0, FQ_WAKE_EVENTFD, 0, -1, &t, &c) != -EINVAL)
		fail("bad input: fq_open accepted bad arguments");

	// Many queues at once: allocates new chunks while another thread looks
	// tokens up in them.
	enum { MANY = 2 * FQ_CHUNK_LEN + 10 };
	static queue qs[MANY];
	uint64_t s = next_rand(rng);
	pthread_t cp;
	start_thread(&cp, chunk_poster, &s);
	for (int i = 0; i < MANY; i++)
		open_queue(&qs[i], 2, 0, FQ_WAKE_EVENTFD);
	for (int i = 0; i < MANY; i++)
		for (int j = 0; j < i; j++)
			if (qs[i].token == qs[j].token || qs[i].c == qs[j].c)
				fail("bad input: two live queues share a token or block");
	atomic_store(&chunk_stop, 1);
	pthread_join(cp, NULL);
	for (int i = 0; i < MANY; i++) {
		msg v = {.producer = (uint32_t)i};
		expect_rc("one of many", foreign_post(qs[i].token, &v, sizeof v), 0);
	}
	for (int i = 0; i < MANY; i++) {
		msg v;
		if (fq_c_recv(qs[i].c, &v) != 1 || v.producer != (uint32_t)i)
			fail("bad input: queue %d of many got another's message", i);
		close_queue(&qs[i]);
		if (fq_c_recv(qs[i].c, &v) != -1)
			fail("bad input: queue %d of many not drained", i);
		free_queue(&qs[i]);
	}
}

// ---- main ----------------------------------------------------------------

int main(int argc, char **argv) {
	uint64_t n = 200000;
	int rounds = 200;
	seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (argc > 1)
		n = strtoull(argv[1], NULL, 10);
	if (argc > 2)
		rounds = atoi(argv[2]);
	if (argc > 3)
		seed = strtoull(argv[3], NULL, 10);
	if (argc > 4 || n == 0 || rounds < 0) {
		fprintf(stderr, "usage: stress [messages-per-producer [close-rounds [seed]]]\n");
		return 2;
	}
	if (seed == 0)
		seed = 1; // xorshift's one fixed point
	uint64_t rng = seed;

	pthread_t wd;
	start_thread(&wd, watchdog_main, NULL);
	double t0 = now_sec();

	uint64_t full = 0, wakeups = 0;
	order_run("order/eventfd", FQ_WAKE_EVENTFD, 0, n, &full, &wakeups);
	order_run("order/pipe", FQ_WAKE_PIPE, 0, n, &full, &wakeups);
	// Crosses the 44-bit wrap after 1000 messages.
	order_run("order/wrap", FQ_WAKE_EVENTFD, (UINT64_C(1) << FQ_POS_BITS) - 1000, n, &full, &wakeups);

	uint64_t accepted = 0;
	int reused = 0;
	close_rounds(rounds, &rng, &accepted, &reused);
	if (rounds > 1 && reused == 0)
		fail("close: no control block was reused; generations were not exercised");

	bad_input(&rng);

	atomic_store(&watchdog_stop, 1);
	pthread_join(wd, NULL);
	printf("stress: ok: order 3x%dx%" PRIu64 " msgs (%" PRIu64 " EFULL, %" PRIu64 " wake-ups), "
	       "close %d rounds (%" PRIu64 " accepted, %d reused blocks, %" PRIu64 " stale posts refused), "
	       "bad input ok, seed %" PRIu64 ", %.1fs\n",
	       NPROD, n, full, wakeups, rounds, accepted, reused, atomic_load(&stale_posts), seed, now_sec() - t0);
	return 0;
}
