// bytes.c: a C-only stress test of byte rings (block.h, "Byte rings" to
// "Counts (bytes)"): foreign_post, foreign_postv and foreign_postv_wait of
// messages of any length, the reservation, and foreign_callv with results
// of any length, built with the library's C and no Go, so that
// ThreadSanitizer and AddressSanitizer+UBSan see every access they make.
// .ci/csan.sh builds and runs it under each.
//
// Usage: bytes [scale [seed]]
//
// The sizes are fixed (scale multiplies them; CI runs scale 1), so that the
// run stays short under ThreadSanitizer whatever stress.c is given.
//
// C threads play the Go side: a consumer reads records in place with
// cbytes.c (fq_c_next), checks them, checks them again just before it
// releases the batch (a producer writing into a record it does not own
// would show), and releases them (zero, store head, wake waiters). A server
// does what bytefunc.go does for a function: it answers each call in place
// with fq_complete, or hands it to a late thread that answers after a
// delay.
//
// Every message is a function of its producer and its sequence number:
// its length (0 to the maximum, often not a multiple of 8, often exactly
// the maximum) and its bytes. The first byte names the producer and the
// low bits of the sequence number; the consumer, which knows each
// producer's next message, checks the length and every byte. An empty
// message names no one: the consumer only counts them, and a producer's
// next non-empty message must find at least as many counted as that
// producer's empty ones due before it. The totals (messages, payload
// bytes, the final position against the consumer's cursor, the ring's own
// counts) catch the rest. In rings that keep stamps, each record's stamp
// must lie between the ring's open and its reading, and grow with each
// producer's messages.
//
// Phases:
//   order      4 producers post 0..max-byte messages into small rings (pads
//              all the time), with and without stamps, through
//              foreign_post, foreign_postv (1-4 parts, empty parts with
//              NULL bases), foreign_post_wait and foreign_postv_wait, and
//              now and then max+1 bytes, which must get FOREIGN_EMSGSIZE;
//              positions start just below the 44-bit wrap, and the
//              producers pause so that the consumer parks (fd and futex by
//              turns). Per-producer order, no loss, no duplication, content.
//   reserve    turns: the consumer and a small poster in one thread, which
//              refills every byte it releases; without the reservation two
//              near-maximal waiters would starve for certain, with it they
//              must get in. A reservation of another generation is ignored
//              and then taken over. Futex, then condition variable.
//              deadline: near-maximal waiters against a flood of small
//              non-waiting posts from more threads; each must get in within
//              RESERVE_TIMEOUT. Then waiters with short timeouts give up
//              while holding it: afterwards a maximal post into the empty
//              ring must get in at once (no reservation left behind).
//   close      rounds of producers posting (waiting or not) until refused
//              while the ring is closed at a random moment; in some rounds
//              the consumer stops first, so that waiters are asleep on a
//              full ring when the close comes and must be woken by it.
//              Every accepted message is delivered once; every refusal is
//              FOREIGN_EFULL or FOREIGN_ECLOSED. Half the rounds on the
//              condition variable, half with stamps.
//   bad        NULL and over-long gather lists, NULL bases, stale and bogus
//              tokens, posts and calls of the wrong kind into byte and cell
//              rings, timeouts on a full ring, a waiter cancelled while it
//              holds the reservation, a call that gives up waiting for room,
//              fq_open's checks: the right code, and nothing claimed (tail,
//              counts, reservation and waiters unchanged).
//   call       foreign_callv into a byte function served by a C thread that
//              answers with 0..BIG_RET bytes: results that fit, results
//              longer than retcap (FOREIGN_EMSGSIZE, *retlen the length
//              needed, the buffer untouched, then a retry with that much
//              room), handler panics, calls back from the serving thread
//              (FOREIGN_EDEADLK), gather-list arguments of 0..max bytes and
//              max+1; callers that time out, whose buffers are checked
//              again after every late completion has come (or freed at
//              once, for AddressSanitizer to see a late write); rounds of
//              callers racing a close.
//
// Each result buffer has guard bytes on both sides. A failure prints
// "bytes: FAIL: ..." with the seed and exits 1; the watchdog turns a hang
// into a failure (harness.h), waits that must end get a deadline of their
// own, and an alarm bounds the whole run.

#include "fq.c" // the library's C, one translation unit: its functions are static
#include "cbytes.c"

#define HARNESS_NAME "bytes"
#include "harness.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>

enum {
	MAXPROD = 8,           // producer ids fit in 3 bits of a message's first byte
	NPROD = 4,             // producers of the order and close phases
	SPIN_BEFORE_PARK = 64, // empty polls before a consumer parks
	MAX_BATCH = 32,        // records a consumer reads before it releases
	AWAIT_SECS = 10,       // a wait that must end (a close's wake-up) gets this long
	RUN_SECS = 240,        // the whole run, whatever happens (alarm)
	BIG_MSG = 4096,        // the longest message of any ring here
	BIG_RET = 6000,        // the longest result (not a multiple of 8)
	GUARD = 16,            // guard bytes each side of a result buffer
	LATE_MAX = 256,        // completions the late thread can hold
	RESERVE_SECS = 30,     // a reserve phase's waiters must be done by then
	RESERVE_COST_NS = 5000, // the reserve phase's consumer's time per record
};

#define NO_LIMIT (-1)                         // timeout: wait as long as it takes
#define LONG_LIMIT (INT64_C(60) * 1000000000) // a timeout that must never expire here
#define MS (INT64_C(1000000))
// A waiting post of the reserve phase against the flood must get in within
// this: with the reservation it waits for two drains of a 2 KiB ring.
#define RESERVE_TIMEOUT (1000 * MS)

static int scale = 1;

static uint64_t mix64(uint64_t x) {
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9u;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

// ---- the alarm -----------------------------------------------------------

// A livelock that keeps bumping the watchdog still ends the run, with the
// phase and the seed. Only write(2) here: it runs in a signal handler.
static void alarm_write(const char *s) { (void)!write(2, s, strlen(s)); }

static void on_alarm(int sig) {
	(void)sig;
	char num[24];
	int i = (int)sizeof num;
	num[--i] = 0;
	uint64_t v = seed;
	do
		num[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && i > 0);
	alarm_write(HARNESS_NAME ": FAIL: the run took too long, in phase ");
	alarm_write(atomic_load(&phase));
	alarm_write(" (seed ");
	alarm_write(num + i);
	alarm_write(")\n");
	_exit(1);
}

// ---- rings ---------------------------------------------------------------

typedef struct {
	uintptr_t token;
	fq_ctl *c;
	uint64_t start, size, max;
	int64_t opened; // before the open: no stamp is earlier
} ring;

// open_ring opens a byte ring of size bytes for payloads of up to max bytes:
// a queue, or with fn a function (max then includes the call's header);
// flags FQ_FLAG_STAMP for records that carry the time of their post.
static void open_ring(ring *r, uint64_t max, uint64_t size, uint64_t start, int wake, int fn, uint32_t flags) {
	fq_open_args a = {.msg_size = max, .capacity = size, .start = start, .wake_kind = wake,
	                  .kind = fn ? FQ_KIND_FUNC : FQ_KIND_QUEUE, .call_ret = fn ? 0 : -1, .bytes = 1,
	                  .flags = flags};
	r->opened = mono_ns();
	int rc = fq_open(&a, &r->token, &r->c);
	if (rc != 0)
		fail("fq_open(bytes, max %" PRIu64 ", size %" PRIu64 ", fn %d, flags %" PRIu32 "): %s", max, size, fn,
		     flags, strerror(-rc));
	r->start = start & FQ_POS_MASK & ~(uint64_t)7;
	r->size = size;
	r->max = max;
	if ((atomic_load(&r->c->tail) & FQ_POS_MASK) != r->start || atomic_load(&r->c->cell_size) != 0)
		fail("fq_open(bytes): tail %#" PRIx64 " (want %#" PRIx64 "), cell_size %" PRIu64 " (want 0)",
		     atomic_load(&r->c->tail) & FQ_POS_MASK, r->start, (uint64_t)atomic_load(&r->c->cell_size));
}

// near_wrap is a start a few rings below the 44-bit wrap, so it is crossed
// early in a phase, and with a pad or a record across it.
static uint64_t near_wrap(uint64_t size, uint64_t *rng) {
	return FQ_POS_MASK + 1 - 8 - (next_rand(rng) % (3 * size) & ~(uint64_t)7);
}

static uint64_t close_ring(ring *r) { return fq_close8(r->token); }

// free_ring is Go's teardown after the drain; the read end of the wake fd
// belongs to the consumer (see stress.c).
static void free_ring(ring *r) {
	int rfd = (int)atomic_load(&r->c->read_fd);
	fq_free(r->token);
	if (close(rfd) != 0)
		fail("close(read fd %d): %s", rfd, strerror(errno));
}

// ---- messages ------------------------------------------------------------

// A producer's stream of messages: their lengths lie in [lo, hi], and the
// bytes follow from seed. The consumers read these (written before any
// thread of the phase starts).
typedef struct {
	uint32_t lo, hi;
	uint64_t seed;
} stream;

static stream streams[MAXPROD];
static int nstreams;

static void set_streams(int n, uint32_t lo, uint32_t hi, uint64_t *rng) {
	for (int i = 0; i < n; i++)
		streams[i] = (stream){.lo = lo, .hi = hi, .seed = next_rand(rng)};
	nstreams = n;
}

// msg_len is the length of message seq of producer id: often the edges
// (0, the maximum, one less), often short and not a multiple of 8.
static size_t msg_len(uint32_t id, uint64_t seq) {
	const stream *st = &streams[id];
	uint64_t h = mix64(st->seed ^ (seq * 0x9e3779b97f4a7c15u));
	uint64_t span = (uint64_t)st->hi - st->lo + 1, v;
	switch (h & 15) {
	case 0:
		v = 0;
		break;
	case 1:
	case 2:
		v = span - 1;
		break;
	case 3:
		v = span > 1 ? span - 2 : 0;
		break;
	case 4:
	case 5:
	case 6:
	case 7:
		v = (h >> 8) % (span < 16 ? span : 16);
		break;
	default:
		v = (h >> 8) % span;
	}
	return st->lo + v;
}

static uint8_t first_byte(uint32_t id, uint64_t seq) { return (uint8_t)(0x80 | id << 4 | (seq & 15)); }

// fill writes message seq of producer id, len bytes, to p.
static void fill(unsigned char *p, uint32_t id, uint64_t seq, size_t len) {
	if (len == 0)
		return;
	p[0] = first_byte(id, seq);
	uint64_t base = streams[id].seed + seq * 0xd1b54a32d192ed03u, w = 0;
	for (size_t i = 1; i < len; i++) {
		if (i == 1 || (i & 7) == 0)
			w = mix64(base + (i >> 3));
		p[i] = (uint8_t)(w >> (8 * (i & 7)));
	}
}

// mismatch is the first byte of p that is not message seq of id, or -1.
static long mismatch(const unsigned char *p, uint32_t id, uint64_t seq, size_t len) {
	unsigned char want[BIG_MSG];
	fill(want, id, seq, len);
	for (size_t i = 0; i < len; i++)
		if (p[i] != want[i])
			return (long)i;
	return -1;
}

// ---- the consumer's tally ------------------------------------------------

typedef struct {
	uint64_t next[MAXPROD]; // the next seq expected from each producer
	uint64_t empties;       // empty messages received and not yet accounted for
	uint64_t received, bytes;
	int64_t since;               // stamped rings: the ring's open, before every stamp
	int64_t last_stamp[MAXPROD]; // each producer's latest stamp
} tally;

// tally_msg accounts for a message and checks it (with its stamp, if the
// ring keeps them: else 0); it returns its producer and seq in *id, *seq
// (UINT32_MAX for an empty message).
static void tally_msg(tally *t, const unsigned char *p, size_t len, int64_t stamp, const char *where, uint32_t *id,
                      uint64_t *seq) {
	t->received++;
	t->bytes += len;
	*id = UINT32_MAX;
	if (stamp != 0) {
		int64_t now = mono_ns();
		if (stamp < t->since || stamp > now)
			fail("%s: a stamp %" PRId64 " ns after the open, %" PRId64 " ns before it was read", where,
			     stamp - t->since, now - stamp);
	}
	if (len == 0) {
		t->empties++;
		return;
	}
	uint32_t who = (p[0] >> 4) & 7;
	if (!(p[0] & 0x80) || who >= (uint32_t)nstreams)
		fail("%s: a message of %zu bytes whose first byte %#x names no producer", where, len, p[0]);
	// The producer's empty messages before this one were claimed before
	// it: they must be among those counted.
	uint64_t s = t->next[who], skipped = 0;
	while (msg_len(who, s) == 0) {
		s++;
		if (++skipped > 100000)
			fail("%s: producer %" PRIu32 " sends only empty messages, yet sent %zu bytes", where, who, len);
	}
	if (skipped > t->empties)
		fail("%s: producer %" PRIu32 " seq %" PRIu64 " arrived with %" PRIu64 " empty messages of its own due "
		     "before it, but %" PRIu64 " unaccounted for (lost or reordered)",
		     where, who, s, skipped, t->empties);
	t->empties -= skipped;
	if ((p[0] & 15) != (s & 15))
		fail("%s: producer %" PRIu32 ": got seq %" PRIu64 " mod 16, want seq %" PRIu64 " (lost, duplicated or "
		     "reordered)",
		     where, who, (uint64_t)(p[0] & 15), s);
	if (len != msg_len(who, s))
		fail("%s: producer %" PRIu32 " seq %" PRIu64 ": %zu bytes, want %zu", where, who, s, len, msg_len(who, s));
	long bad = mismatch(p, who, s, len);
	if (bad >= 0)
		fail("%s: producer %" PRIu32 " seq %" PRIu64 ": byte %ld of %zu is wrong", where, who, s, bad, len);
	// One thread's reads of a monotonic clock, in the order it posted.
	if (stamp < t->last_stamp[who])
		fail("%s: producer %" PRIu32 " seq %" PRIu64 ": stamped %" PRId64 " ns before its previous message", where,
		     who, s, t->last_stamp[who] - stamp);
	t->last_stamp[who] = stamp;
	t->next[who] = s + 1;
	*id = who;
	*seq = s;
}

// tally_end checks the tally against what the producers had accepted.
static void tally_end(const tally *t, int nprod, const uint64_t *sent, const char *where) {
	uint64_t trailing = 0;
	for (int i = 0; i < nprod; i++) {
		if (t->next[i] > sent[i])
			fail("%s: producer %d: received up to seq %" PRIu64 ", but only %" PRIu64 " were accepted", where, i,
			     t->next[i] - 1, sent[i]);
		for (uint64_t s = t->next[i]; s < sent[i]; s++) {
			if (msg_len((uint32_t)i, s) != 0)
				fail("%s: producer %d: seq %" PRIu64 " (%zu bytes) was accepted and never received", where, i, s,
				     msg_len((uint32_t)i, s));
			trailing++;
		}
	}
	if (trailing != t->empties)
		fail("%s: %" PRIu64 " empty messages received and not accounted for, want %" PRIu64
		     " (lost or duplicated)",
		     where, t->empties, trailing);
}

// ---- the consumer ----------------------------------------------------------

typedef struct {
	ring *r;
	const char *where;
	fq_c_bytes b;
	tally t;
	uint64_t rng;
	int slow;          // fall behind now and then, so producers wait for room
	int max_batch;     // records read before a release, at most
	int64_t cost_ns;   // time spent on each record (a handler's work)
	_Atomic int stall; // stop reading (and release what was read) while set
	uint64_t batches;
} consumer;

static void consumer_init(consumer *k, ring *r, const char *where, uint64_t *rng) {
	memset(k, 0, sizeof *k);
	k->r = r;
	k->where = where;
	k->rng = next_rand(rng) | 1;
	k->max_batch = MAX_BATCH;
	k->t.since = r->opened;
	fq_c_bytes_init(&k->b, r->c);
}

static void corrupt(const fq_c_bytes *b, const char *where) {
	fail("%s: at position %#" PRIx64 " (head %#" PRIx64 "): %s (header %#" PRIx64 ")", where, b->bad_pos, b->head,
	     b->why, b->bad_word);
}

static void *consumer_main(void *arg) {
	consumer *k = arg;
	struct {
		const unsigned char *p;
		size_t len;
		uint32_t id;
		uint64_t seq;
	} batch[MAX_BATCH];
	for (int idle = 0;;) {
		if (atomic_load(&k->stall)) {
			fq_c_release(&k->b);
			sleep_ns(100000);
			continue;
		}
		int n = 0, rc = 1, lim = 1 + (int)(next_rand(&k->rng) % (uint64_t)k->max_batch);
		while (n < lim && (rc = fq_c_next(&k->b, &batch[n].p, &batch[n].len)) == 1) {
			tally_msg(&k->t, batch[n].p, batch[n].len, k->b.stamp, k->where, &batch[n].id, &batch[n].seq);
			n++;
			if (k->cost_ns > 0)
				for (int64_t until = mono_ns() + k->cost_ns; mono_ns() < until;)
					fq_relax();
		}
		if (rc == FQ_C_CORRUPT)
			corrupt(&k->b, k->where);
		if (n > 0) {
			// Still ours until the release: nobody may have written them.
			for (int i = 0; i < n; i++)
				if (batch[i].id != UINT32_MAX && mismatch(batch[i].p, batch[i].id, batch[i].seq, batch[i].len) >= 0)
					fail("%s: producer %" PRIu32 " seq %" PRIu64 " changed in the ring before its release",
					     k->where, batch[i].id, batch[i].seq);
			fq_c_release(&k->b);
			k->batches++;
			bump();
			idle = 0;
			if (k->slow && (next_rand(&k->rng) & 255) == 0)
				sleep_ns(50000);
			continue;
		}
		if (rc < 0)
			return NULL; // closed, and all of it read and released
		if (++idle < SPIN_BEFORE_PARK) {
			sched_yield();
			continue;
		}
		idle = 0;
		fq_c_bytes_park(&k->b);
	}
}

// consumer_check is what every phase checks once its consumer is done:
// the cursor is at the final position, and the counts are the producers'.
static void consumer_check(const consumer *k, uint64_t end, int nprod, const uint64_t *sent, uint64_t msgs,
                           uint64_t bytes) {
	tally_end(&k->t, nprod, sent, k->where);
	if (k->b.rd != end || k->b.head != end || atomic_load(&k->r->c->head) != end)
		fail("%s: the consumer stopped at %#" PRIx64 " (head %#" PRIx64 "), the final position is %#" PRIx64,
		     k->where, k->b.rd, atomic_load(&k->r->c->head), end);
	if (k->t.received != msgs || k->t.bytes != bytes)
		fail("%s: received %" PRIu64 " messages of %" PRIu64 " bytes; %" PRIu64 " of %" PRIu64 " were accepted",
		     k->where, k->t.received, k->t.bytes, msgs, bytes);
	uint64_t cm = atomic_load(&k->r->c->msgs), cb = atomic_load(&k->r->c->bytes);
	if (cm != msgs || cb != bytes)
		fail("%s: the ring counted %" PRIu64 " messages of %" PRIu64 " bytes; %" PRIu64 " of %" PRIu64
		     " were accepted",
		     k->where, cm, cb, msgs, bytes);
	if (atomic_load(&k->r->c->high_water) > k->r->size)
		fail("%s: high water %" PRIu64 " over the ring's %" PRIu64 " bytes", k->where,
		     (uint64_t)atomic_load(&k->r->c->high_water), k->r->size);
}

// ---- producers -------------------------------------------------------------

enum { M_POST, M_POSTV, M_POST_WAIT, M_POSTV_WAIT, M_COUNT };

typedef struct {
	uintptr_t token;
	uint32_t id;
	const char *where;
	uint64_t n;           // messages to post; 0: until stop is set or FOREIGN_ECLOSED
	int waits;            // 0: never waits, 1: may wait, 2: always waits
	int64_t timeout;      // of the waiting posts
	int may_time_out;     // FOREIGN_ETIMEDOUT is not a failure
	int hammer;           // retry a refused post at once, without yielding
	uint64_t max;         // the ring's maximum
	_Atomic int *stop;    // if set: stop when it is
	int64_t deadline;     // if set: being still at it then is a failure (starved)
	_Atomic uint32_t *returned;
	uint64_t rng;

	uint64_t sent, bytes, full, toolong, timeouts, waited;
	int64_t worst_ns; // the longest accepted waiting post
	int closed;
} producer;

// split makes a gather list of 1 to 4 parts of the len bytes at p: cuts
// at random, often at the ends, and empty parts half the time with a NULL
// base.
static int split(struct foreign_iovec *iov, const unsigned char *p, size_t len, uint64_t *rng) {
	int k = 1 + (int)(next_rand(rng) % 4);
	size_t cuts[5] = {0};
	for (int i = 1; i < k; i++) {
		uint64_t r = next_rand(rng);
		cuts[i] = (r & 3) == 0 ? 0 : (r & 3) == 1 ? len : (size_t)((r >> 2) % (len + 1));
	}
	cuts[k] = len;
	for (int i = 1; i < k; i++) // insertion sort: at most 3
		for (int j = i; j > 1 && cuts[j - 1] > cuts[j]; j--) {
			size_t x = cuts[j];
			cuts[j] = cuts[j - 1];
			cuts[j - 1] = x;
		}
	for (int i = 0; i < k; i++) {
		size_t n = cuts[i + 1] - cuts[i];
		iov[i] = (struct foreign_iovec){n == 0 && (next_rand(rng) & 1) ? NULL : p + cuts[i], n};
	}
	return k;
}

static int post_with(producer *p, int method, const unsigned char *buf, size_t len) {
	struct foreign_iovec iov[4];
	// An empty message through a single buffer: NULL or not.
	const void *one = len == 0 && (next_rand(&p->rng) & 1) ? NULL : buf;
	switch (method) {
	case M_POST:
		return foreign_post(p->token, one, len);
	case M_POSTV:
		return foreign_postv(p->token, iov, split(iov, buf, len, &p->rng));
	case M_POST_WAIT:
		return foreign_post_wait(p->token, one, len, p->timeout);
	default:
		return foreign_postv_wait(p->token, iov, split(iov, buf, len, &p->rng), p->timeout);
	}
}

static int pick_method(producer *p) {
	int m = (int)(next_rand(&p->rng) % M_COUNT);
	switch (p->waits) {
	case 0:
		return m & 1; // M_POST or M_POSTV
	case 1:
		return m;
	default:
		return M_POST_WAIT + (m & 1);
	}
}

// too_long posts max+1 bytes, which no ring takes, by any method.
static void too_long(producer *p, unsigned char *buf) {
	memset(buf, 0xee, p->max + 1);
	int rc = post_with(p, (int)(next_rand(&p->rng) % M_COUNT), buf, p->max + 1);
	if (rc == FOREIGN_EMSGSIZE)
		p->toolong++;
	else if (rc != FOREIGN_ECLOSED || p->n != 0) // closed comes first, as in the claim
		fail("%s: producer %" PRIu32 ": %" PRIu64 " bytes into a ring of at most %" PRIu64 ": %d (%s), want "
		     "FOREIGN_EMSGSIZE",
		     p->where, p->id, p->max + 1, p->max, rc, foreign_strerror(rc));
}

static void *producer_main(void *arg) {
	producer *p = arg;
	unsigned char buf[BIG_MSG + 1];
	while (p->n == 0 || p->sent < p->n) {
		if (p->stop != NULL && atomic_load_explicit(p->stop, memory_order_relaxed))
			break;
		if (p->deadline != 0 && mono_ns() > p->deadline)
			fail("%s: producer %" PRIu32 ": starved: %" PRIu64 " of %" PRIu64 " messages in, %" PRIu64
			     " waits timed out",
			     p->where, p->id, p->sent, p->n, p->timeouts);
		if ((next_rand(&p->rng) & 31) == 0)
			too_long(p, buf);
		size_t len = msg_len(p->id, p->sent);
		fill(buf, p->id, p->sent, len);
		int method = pick_method(p);
		int64_t t0 = method >= M_POST_WAIT ? mono_ns() : 0;
		int rc = post_with(p, method, buf, len);
		if (rc == 0) {
			p->sent++;
			p->bytes += len;
			if (method >= M_POST_WAIT) {
				int64_t took = mono_ns() - t0;
				p->waited++;
				if (took > p->worst_ns)
					p->worst_ns = took;
			}
			bump();
			// The ring runs dry now and then, long enough for the consumer to
			// park: the wake-ups of byte rings are exercised, not only the spin.
			if (p->n != 0 && p->sent % 512 == 0)
				sleep_ns(100000 + 20000 * (long)p->id);
		} else if (rc == FOREIGN_EFULL && method < M_POST_WAIT) {
			p->full++;
			if (!p->hammer)
				sched_yield();
		} else if (rc == FOREIGN_ETIMEDOUT && method >= M_POST_WAIT && p->may_time_out) {
			p->timeouts++;
		} else if (rc == FOREIGN_ECLOSED && p->n == 0) {
			p->closed = 1;
			break;
		} else {
			fail("%s: producer %" PRIu32 " seq %" PRIu64 ": %zu bytes by method %d: %d (%s)", p->where, p->id,
			     p->sent, len, method, rc, foreign_strerror(rc));
		}
	}
	if (p->returned != NULL)
		atomic_fetch_add(p->returned, 1);
	return NULL;
}

static void producer_init(producer *p, const ring *r, uint32_t id, const char *where, uint64_t *rng) {
	*p = (producer){.token = r->token, .id = id, .where = where, .max = r->max, .waits = 1,
	                .timeout = (id & 1) ? LONG_LIMIT : NO_LIMIT, .rng = next_rand(rng) | 1};
}

// await_u32 polls until *v == want, for waits that the contract bounds (a
// close releases every waiter): it fails after AWAIT_SECS.
static void await_u32(_Atomic uint32_t *v, uint32_t want, const char *what) {
	int64_t end = mono_ns() + (int64_t)AWAIT_SECS * 1000000000;
	uint32_t got;
	while ((got = atomic_load(v)) != want) {
		if (mono_ns() > end)
			fail("%s: %" PRIu32 " after %d s, want %" PRIu32, what, got, AWAIT_SECS, want);
		sleep_ns(100000);
		bump();
	}
}

// ---- order ---------------------------------------------------------------

typedef struct {
	uint64_t max, size;
	uint32_t flags;
} shape;

// Small rings, each at least twice its largest record: pads all the time,
// and producers often find them full. Max 0 takes only empty messages.
// Stamped ones last: each record 8 bytes longer, the smallest rings too.
static const shape shapes[] = {{0, 16, 0},     {13, 64, 0},   {200, 512, 0},
                               {1000, 2048, 0}, {BIG_MSG, 4 * BIG_MSG, 0}, {0, 32, FQ_FLAG_STAMP},
                               {13, 64, FQ_FLAG_STAMP}, {1000, 2048, FQ_FLAG_STAMP}};

static void order_run(const shape *sh, int wake, uint64_t n, uint64_t *wakeups, uint64_t *rng) {
	static char where[64];
	snprintf(where, sizeof where, "order/max %" PRIu64 " ring %" PRIu64 "%s", sh->max, sh->size,
	         sh->flags ? " stamped" : "");
	atomic_store(&phase, where);
	ring r;
	open_ring(&r, sh->max, sh->size, near_wrap(sh->size, rng), wake, 0, sh->flags);
	set_streams(NPROD, 0, (uint32_t)sh->max, rng);
	consumer k;
	consumer_init(&k, &r, where, rng);
	k.slow = 1;
	producer ps[NPROD];
	pthread_t ct, pt[NPROD];
	start_thread(&ct, consumer_main, &k);
	for (uint32_t i = 0; i < NPROD; i++) {
		producer_init(&ps[i], &r, i, where, rng);
		ps[i].n = n / (sh->max >= 1000 ? 4 : 1); // the large ones cost more under the sanitizers
		start_thread(&pt[i], producer_main, &ps[i]);
	}
	uint64_t sent[NPROD], msgs = 0, bytes = 0, full = 0, toolong = 0;
	for (int i = 0; i < NPROD; i++) {
		pthread_join(pt[i], NULL);
		sent[i] = ps[i].sent;
		msgs += ps[i].sent;
		bytes += ps[i].bytes;
		full += ps[i].full;
		toolong += ps[i].toolong;
	}
	uint64_t end = close_ring(&r);
	pthread_join(ct, NULL);
	consumer_check(&k, end, NPROD, sent, msgs, bytes);
	if (toolong == 0)
		fail("%s: no post of max+1 bytes was made", where);
	if (atomic_load(&r.c->waiters) != 0 || (atomic_load(&r.c->reserve) & FQ_POS_MASK) != 0)
		fail("%s: waiters %" PRIu32 ", reservation %" PRIu64 " after every producer returned", where,
		     atomic_load(&r.c->waiters), atomic_load(&r.c->reserve) & FQ_POS_MASK);
	if (end >= r.start)
		fail("%s: the positions did not wrap (from %#" PRIx64 " to %#" PRIx64 ")", where, r.start, end);
	printf("bytes: %-34s %6" PRIu64 " msgs, %8" PRIu64 " bytes, %6" PRIu64 " EFULL, %5" PRIu64 " EMSGSIZE, "
	       "%" PRIu64 " batches, %" PRIu64 " wake-ups\n",
	       where, msgs, bytes, full, toolong, k.batches, (uint64_t)atomic_load(&r.c->wakeups));
	*wakeups += atomic_load(&r.c->wakeups);
	free_ring(&r);
}

// ---- reserve: waiting posts against a flood --------------------------------

// reserve_run runs nw waiters of near-maximal messages against nf flooding
// threads of small ones. With timeouts (short), waiters may give up, and
// do so while they hold the reservation.
static void reserve_run(const char *where, int nw, int nf, uint64_t per_waiter, int64_t timeout, int may_time_out,
                        uint64_t *rng) {
	atomic_store(&phase, where);
	enum { MAX = 1000, SIZE = 2048 }; // the ring holds two near-maximal records
	ring r;
	open_ring(&r, MAX, SIZE, near_wrap(SIZE, rng), FQ_WAKE_EVENTFD, 0, 0);
	int np = nw + nf;
	if (np > MAXPROD)
		fail("%s: %d producers", where, np);
	for (int i = 0; i < np; i++)
		streams[i] = i < nw ? (stream){.lo = MAX - 7, .hi = MAX, .seed = next_rand(rng)}
		                    : (stream){.lo = 0, .hi = 24, .seed = next_rand(rng)};
	nstreams = np;
	consumer k;
	consumer_init(&k, &r, where, rng);
	// One record at a time, and each takes a while: room comes back a few
	// bytes at a time, slower than the flood fills it, so that without the
	// reservation the room a waiter needs would never appear.
	k.max_batch = 1;
	k.cost_ns = RESERVE_COST_NS;
	_Atomic int stop = 0;
	producer ps[MAXPROD];
	pthread_t ct, pt[MAXPROD];
	start_thread(&ct, consumer_main, &k);
	for (int i = 0; i < np; i++) {
		producer_init(&ps[i], &r, (uint32_t)i, where, rng);
		if (i < nw) {
			ps[i].n = per_waiter;
			ps[i].timeout = timeout;
			ps[i].may_time_out = may_time_out;
			ps[i].waits = 2;
		} else {
			ps[i].waits = 0;
			ps[i].hammer = 1;
			ps[i].stop = &stop;
		}
	}
	// Floods first: the ring is full of small records when the waiters come.
	for (int i = np - 1; i >= 0; i--) {
		if (i == nw - 1)
			sleep_ns(20 * MS);
		if (i < nw)
			ps[i].deadline = mono_ns() + (int64_t)RESERVE_SECS * 1000000000;
		start_thread(&pt[i], producer_main, &ps[i]);
	}
	uint64_t sent[MAXPROD], msgs = 0, bytes = 0, flood = 0, flood_full = 0, timeouts = 0;
	int64_t worst = 0;
	for (int i = 0; i < np; i++) {
		if (i == nw)
			atomic_store(&stop, 1); // the waiters are done (each bounded by its timeout or deadline)
		pthread_join(pt[i], NULL);
		sent[i] = ps[i].sent;
		msgs += ps[i].sent;
		bytes += ps[i].bytes;
		if (i < nw) {
			timeouts += ps[i].timeouts;
			worst = ps[i].worst_ns > worst ? ps[i].worst_ns : worst;
		} else {
			flood += ps[i].sent;
			flood_full += ps[i].full;
		}
	}
	// Every waiter is gone: no reservation may be left. An empty ring then
	// takes a maximal message from a post that does not wait.
	if ((atomic_load(&r.c->reserve) & FQ_POS_MASK) != 0 || atomic_load(&r.c->waiters) != 0)
		fail("%s: reservation %" PRIu64 ", waiters %" PRIu32 " after every waiter returned", where,
		     atomic_load(&r.c->reserve) & FQ_POS_MASK, atomic_load(&r.c->waiters));
	int64_t until = mono_ns() + (int64_t)AWAIT_SECS * 1000000000;
	while (atomic_load(&r.c->head) != (atomic_load(&r.c->tail) & FQ_POS_MASK)) {
		if (mono_ns() > until)
			fail("%s: the consumer did not drain the ring", where);
		sleep_ns(100000);
	}
	unsigned char buf[MAX];
	fill(buf, 0, sent[0], msg_len(0, sent[0]));
	int rc = foreign_post(r.token, buf, msg_len(0, sent[0]));
	if (rc != 0)
		fail("%s: a maximal post into the empty ring after the waiters: %d (%s)", where, rc, foreign_strerror(rc));
	sent[0]++;
	msgs++;
	bytes += msg_len(0, sent[0] - 1);
	uint64_t end = close_ring(&r);
	pthread_join(ct, NULL);
	consumer_check(&k, end, np, sent, msgs, bytes);
	if (flood == 0)
		fail("%s: the flood got nothing in", where);
	if (!may_time_out && timeouts != 0) // cannot be: a timeout fails the producer
		fail("%s: %" PRIu64 " waiting posts timed out", where, timeouts);
	printf("bytes: %-34s %d waiters: %" PRIu64 " msgs in, %" PRIu64 " timed out, slowest %.1f ms; "
	       "%d floods: %" PRIu64 " msgs in, %" PRIu64 " EFULL\n",
	       where, nw, msgs - flood - 1, timeouts, (double)worst / 1e6, nf, flood, flood_full);
	free_ring(&r);
}

// reserve_turns: the reservation without luck. This thread is the
// consumer and the small poster at once: it releases one record at a time
// and after each release posts small messages until one is refused, so
// that without the reservation the room never grows past one small
// record and the waiters starve for certain. With it, the small posts are
// refused while the holder's room is not free, and two near-maximal
// waiters get in, one after the other.
static void reserve_turns(uint32_t flags, uint64_t *rng) {
	static const char where[] = "reserve/turns";
	atomic_store(&phase, where);
	enum { MAX = 1000, SIZE = 2048, NW = 2, SMALL = NW };
	uint64_t stamp = (flags & FQ_FLAG_STAMP) ? FQ_STAMP : 0;
	ring r;
	open_ring(&r, MAX, SIZE, near_wrap(SIZE, rng), FQ_WAKE_EVENTFD, 0, flags);
	for (int i = 0; i < NW; i++)
		streams[i] = (stream){.lo = MAX - 7, .hi = MAX, .seed = next_rand(rng)};
	streams[SMALL] = (stream){.lo = 0, .hi = 24, .seed = next_rand(rng)};
	nstreams = NW + 1;
	fq_c_bytes b;
	fq_c_bytes_init(&b, r.c);
	tally t = {.since = r.opened};
	uint64_t small = 0, small_bytes = 0, refused = 0;
	unsigned char buf[32];
	// post_small posts small messages until one is refused.
#define POST_SMALL()                                                                                              \
	for (;;) {                                                                                                   \
		size_t n_ = msg_len(SMALL, small);                                                                       \
		fill(buf, SMALL, small, n_);                                                                             \
		int rc_ = foreign_post(r.token, buf, n_);                                                                \
		if (rc_ == FOREIGN_EFULL) {                                                                              \
			refused++;                                                                                           \
			break;                                                                                               \
		}                                                                                                        \
		if (rc_ != 0)                                                                                            \
			fail("%s: a small post: %d (%s)", where, rc_, foreign_strerror(rc_));                                \
		small++;                                                                                                 \
		small_bytes += n_;                                                                                       \
	}
	POST_SMALL();
	_Atomic uint32_t done = 0;
	producer ws[NW];
	pthread_t wt[NW];
	for (int i = 0; i < NW; i++) {
		producer_init(&ws[i], &r, (uint32_t)i, where, rng);
		ws[i].n = 1;
		ws[i].waits = 2;
		ws[i].returned = &done;
		start_thread(&wt[i], producer_main, &ws[i]);
		// The first takes the reservation; the second waits behind it.
		await_u32(&r.c->waiters, (uint32_t)i + 1, "reserve/turns: waiters asleep on the full ring");
	}
	// Its record and a pad at worst, stamps included.
	uint64_t need = 2 * (fq_rec_size(MAX) + stamp);
	if ((atomic_load(&r.c->reserve) & FQ_POS_MASK) != need ||
	    fq_tail_gen(atomic_load(&r.c->reserve)) != fq_token_gen(r.token))
		fail("%s: reservation %#" PRIx64 " with a waiter asleep, want %" PRIu64 " bytes of generation %" PRIu64,
		     where, atomic_load(&r.c->reserve), need, fq_token_gen(r.token));
	int64_t deadline = mono_ns() + (int64_t)AWAIT_SECS * 1000000000;
	uint64_t releases = 0;
	while (t.next[0] == 0 || t.next[1] == 0) {
		if (mono_ns() > deadline)
			fail("%s: starved: after %" PRIu64 " releases the waiters got %d of %d in (reservation %#" PRIx64
			     ", depth %" PRId64 ")",
			     where, releases, (t.next[0] != 0) + (t.next[1] != 0), NW, atomic_load(&r.c->reserve),
			     fq_diff(atomic_load(&r.c->tail) & FQ_POS_MASK, atomic_load(&r.c->head)));
		const unsigned char *p;
		size_t len;
		uint32_t id;
		uint64_t seq;
		int rc = fq_c_next(&b, &p, &len);
		if (rc == FQ_C_CORRUPT)
			corrupt(&b, where);
		if (rc == 1) {
			tally_msg(&t, p, len, b.stamp, where, &id, &seq);
			fq_c_release(&b);
			releases++;
		} else {
			sched_yield(); // a waiter between its claim and its publish, or not yet woken
		}
		POST_SMALL();
		bump();
	}
#undef POST_SMALL
	await_u32(&done, NW, "reserve/turns: the waiters returned");
	for (int i = 0; i < NW; i++)
		pthread_join(wt[i], NULL);
	uint64_t end = close_ring(&r);
	for (;;) {
		const unsigned char *p;
		size_t len;
		uint32_t id;
		uint64_t seq;
		int rc = fq_c_next(&b, &p, &len);
		if (rc == FQ_C_CORRUPT)
			corrupt(&b, where);
		if (rc != 1)
			break;
		tally_msg(&t, p, len, b.stamp, where, &id, &seq);
	}
	fq_c_release(&b);
	uint64_t sent[] = {1, 1, small};
	consumer k = {.r = &r, .where = where, .b = b, .t = t};
	consumer_check(&k, end, NW + 1, sent, NW + small, ws[0].bytes + ws[1].bytes + small_bytes);
	if ((atomic_load(&r.c->reserve) & FQ_POS_MASK) != 0)
		fail("%s: a reservation left after both waiters got in", where);
	printf("bytes: %-34s %d waiters in after %" PRIu64 " releases; %" PRIu64 " small posts in, %" PRIu64
	       " refused [%s%s]\n",
	       where, NW, releases, small, refused, fq_using_futex() ? "futex" : "condvar", stamp ? ", stamped" : "");
	free_ring(&r);

	// A reservation of another generation (a holder stalled across a
	// close and a reuse of the block) holds nothing back, and the next
	// waiter takes its place.
	open_ring(&r, MAX, SIZE, 0, FQ_WAKE_EVENTFD, 0, flags);
	uint64_t gen = fq_token_gen(r.token);
	atomic_store(&r.c->reserve, ((gen + 1) & FQ_GEN_MASK) << FQ_GEN_SHIFT | (SIZE - 8));
	unsigned char big[MAX] = {0};
	for (int i = 0; i < 2; i++)
		if (foreign_post(r.token, big, MAX) != 0)
			fail("%s: a reservation of another generation kept a post out of an empty ring", where);
	ws[0] = (producer){.token = r.token, .id = 0, .where = where, .waits = 2, .timeout = NO_LIMIT, .max = MAX,
	                   .returned = &done, .rng = 1};
	done = 0;
	streams[0] = (stream){.lo = MAX, .hi = MAX, .seed = 1};
	start_thread(&wt[0], producer_main, &ws[0]);
	await_u32(&r.c->waiters, 1, "reserve/turns: a waiter on the full ring");
	deadline = mono_ns() + (int64_t)AWAIT_SECS * 1000000000;
	while (fq_tail_gen(atomic_load(&r.c->reserve)) != gen) {
		if (mono_ns() > deadline)
			fail("%s: the waiter did not take the place of another generation's reservation (%#" PRIx64 ")",
			     where, atomic_load(&r.c->reserve));
		sleep_ns(100000);
	}
	close_ring(&r);
	await_u32(&done, 1, "reserve/turns: the waiter released by the close");
	pthread_join(wt[0], NULL);
	if (!ws[0].closed || atomic_load(&r.c->reserve) != gen << FQ_GEN_SHIFT)
		fail("%s: after the close: ECLOSED %d, reservation %#" PRIx64 ", want %#" PRIx64, where, ws[0].closed,
		     atomic_load(&r.c->reserve), gen << FQ_GEN_SHIFT);
	fq_c_bytes_init(&b, r.c);
	const unsigned char *p;
	size_t len;
	int rc, got = 0;
	while ((rc = fq_c_next(&b, &p, &len)) == 1)
		got += len == MAX;
	if (rc != -1 || got != 2)
		fail("%s: draining the two maximal messages: %d of them, then %d", where, got, rc);
	fq_c_release(&b);
	free_ring(&r);
}

// ---- close ---------------------------------------------------------------

static void close_rounds(int rounds, uint64_t *rng) {
	static const char where[] = "close";
	atomic_store(&phase, where);
	int stalled = 0;
	uint64_t accepted = 0;
	for (int round = 0; round < rounds; round++) {
		// Every thread of the last round is joined: no one is in fq_wait32.
		fq_set_futex(round % 4 < 2);
		const shape *sh = &shapes[1 + next_rand(rng) % 3];
		ring r;
		uint64_t start = (round & 1) ? near_wrap(sh->size, rng) : next_rand(rng) % 4096;
		// Stamps in every other pair of rounds: records 8 bytes longer.
		open_ring(&r, sh->max, sh->size, start, (round & 2) ? FQ_WAKE_PIPE : FQ_WAKE_EVENTFD, 0,
		          (round & 4) ? FQ_FLAG_STAMP : 0);
		set_streams(NPROD, 0, (uint32_t)sh->max, rng);
		consumer k;
		consumer_init(&k, &r, where, rng);
		_Atomic uint32_t returned = 0;
		producer ps[NPROD];
		pthread_t ct, pt[NPROD];
		start_thread(&ct, consumer_main, &k);
		for (uint32_t i = 0; i < NPROD; i++) {
			producer_init(&ps[i], &r, i, where, rng);
			ps[i].waits = i != 0; // one that never waits: it meets EFULL and then ECLOSED
			ps[i].returned = &returned;
			start_thread(&pt[i], producer_main, &ps[i]);
		}
		int stall = round % 3 == 2;
		sleep_ns((long)(next_rand(rng) % 2000000));
		if (stall) {
			// The consumer stops; the producers fill the ring and those
			// that wait go to sleep: only the close can release them.
			atomic_store(&k.stall, 1);
			int64_t until = mono_ns() + 50 * MS;
			while (atomic_load(&r.c->waiters) < NPROD - 1 && mono_ns() < until)
				sleep_ns(200000);
			stalled += atomic_load(&r.c->waiters) > 0;
		}
		uint64_t end = close_ring(&r);
		if (stall) {
			await_u32(&returned, NPROD, "close: producers released by the close, the consumer stopped");
			atomic_store(&k.stall, 0);
		}
		pthread_join(ct, NULL);
		// What Go does: the ring goes once drained, producers may still be
		// leaving foreign_post (after their publish, or refused).
		free_ring(&r);
		uint64_t sent[NPROD], msgs = 0, bytes = 0;
		for (int i = 0; i < NPROD; i++) {
			pthread_join(pt[i], NULL);
			if (!ps[i].closed)
				fail("close round %d: producer %d ended without FOREIGN_ECLOSED", round, i);
			sent[i] = ps[i].sent;
			msgs += ps[i].sent;
			bytes += ps[i].bytes;
		}
		consumer_check(&k, end, NPROD, sent, msgs, bytes);
		if (atomic_load(&r.c->waiters) != 0 || (atomic_load(&r.c->reserve) & FQ_POS_MASK) != 0)
			fail("close round %d: waiters %" PRIu32 ", reservation %" PRIu64 " after every producer returned",
			     round, atomic_load(&r.c->waiters), atomic_load(&r.c->reserve) & FQ_POS_MASK);
		accepted += msgs;
		bump();
	}
	fq_set_futex(1);
	if (rounds >= 6 && stalled == 0)
		fail("close: no round had a waiter asleep at the close");
	printf("bytes: %-34s %d rounds, %" PRIu64 " msgs accepted, %d with waiters asleep at the close\n", where,
	       rounds, accepted, stalled);
}

// ---- bad input -------------------------------------------------------------

// untouched reports whether a buffer still holds only its fill, 0xa5.
static int untouched(const unsigned char *p, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0xa5)
			return 0;
	return 1;
}

enum { RETBUF = GUARD + BIG_RET + 64 + GUARD }; // a result buffer with its guards

static void expect_rc(const char *what, int got, int want) {
	if (got != want)
		fail("bad: %s: got %d (%s), want %d (%s)", what, got, foreign_strerror(got), want, foreign_strerror(want));
}

// What a refused post must leave as it was.
typedef struct {
	uint64_t tail, msgs, bytes, reserve;
	uint32_t waiters;
} snap;

static snap snap_of(fq_ctl *c) {
	return (snap){atomic_load(&c->tail), atomic_load(&c->msgs), atomic_load(&c->bytes), atomic_load(&c->reserve),
	              atomic_load(&c->waiters)};
}

static void expect_unclaimed(const char *what, fq_ctl *c, snap s) {
	snap now = snap_of(c);
	if (now.tail != s.tail || now.msgs != s.msgs || now.bytes != s.bytes || now.reserve != s.reserve ||
	    now.waiters != s.waiters)
		fail("bad: %s: a refused post changed the ring: tail %#" PRIx64 " -> %#" PRIx64 ", msgs %" PRIu64
		     " -> %" PRIu64 ", bytes %" PRIu64 " -> %" PRIu64 ", reserve %#" PRIx64 " -> %#" PRIx64
		     ", waiters %" PRIu32 " -> %" PRIu32,
		     what, s.tail, now.tail, s.msgs, now.msgs, s.bytes, now.bytes, s.reserve, now.reserve, s.waiters,
		     now.waiters);
}

// drain_check reads n messages from a ring nobody else consumes and checks
// their lengths and bytes against want/lens.
static void drain_check(fq_c_bytes *b, int n, const size_t *lens, const unsigned char *const *want,
                        const char *what) {
	for (int i = 0; i < n; i++) {
		const unsigned char *p;
		size_t len;
		int rc = fq_c_next(b, &p, &len);
		if (rc == FQ_C_CORRUPT)
			corrupt(b, what);
		if (rc != 1)
			fail("bad: %s: message %d of %d not in the ring (%d)", what, i, n, rc);
		if (len != lens[i] || (len > 0 && memcmp(p, want[i], len) != 0))
			fail("bad: %s: message %d: %zu bytes (want %zu), or the wrong bytes", what, i, len, lens[i]);
	}
	fq_c_release(b);
	const unsigned char *p;
	size_t len;
	int rc = fq_c_next(b, &p, &len);
	if (rc != 0 && rc != -1) // -1: closed, and all of it read
		fail("bad: %s: more in the ring than was accepted (%d)", what, rc);
}

static void bad_queue(uint64_t *rng) {
	enum { MAX = 64, SIZE = 256 };
	ring q;
	open_ring(&q, MAX, SIZE, near_wrap(SIZE, rng), FQ_WAKE_EVENTFD, 0, 0);
	uintptr_t t = q.token;
	static struct foreign_iovec iov[FOREIGN_IOV_MAX + 1]; // all {NULL, 0}
	unsigned char buf[MAX + 16];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	snap s = snap_of(q.c);

	expect_rc("postv of a NULL list of 1", foreign_postv(t, NULL, 1), FOREIGN_EINVAL);
	expect_rc("postv_wait of a NULL list of 2", foreign_postv_wait(t, NULL, 2, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("postv of -1 parts", foreign_postv(t, iov, -1), FOREIGN_EINVAL);
	expect_rc("postv of FOREIGN_IOV_MAX + 1 empty parts", foreign_postv(t, iov, FOREIGN_IOV_MAX + 1),
	          FOREIGN_EINVAL);
	expect_rc("postv_wait of FOREIGN_IOV_MAX + 1 empty parts",
	          foreign_postv_wait(t, iov, FOREIGN_IOV_MAX + 1, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("postv of INT32_MAX parts", foreign_postv(t, iov, INT32_MAX), FOREIGN_EINVAL);
	struct foreign_iovec v[3] = {{NULL, 5}, {buf, 2}, {NULL, 0}};
	expect_rc("postv with a NULL base of 5 bytes first", foreign_postv(t, v, 3), FOREIGN_EINVAL);
	v[0] = (struct foreign_iovec){buf, 1};
	v[2] = (struct foreign_iovec){NULL, 1};
	expect_rc("postv with a NULL base of 1 byte last", foreign_postv(t, v, 3), FOREIGN_EINVAL);
	expect_rc("postv_wait with a NULL base", foreign_postv_wait(t, v, 3, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("post of NULL, 5 bytes", foreign_post(t, NULL, 5), FOREIGN_EINVAL);
	expect_rc("post_wait of NULL, 5 bytes", foreign_post_wait(t, NULL, 5, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("post of max+1", foreign_post(t, buf, MAX + 1), FOREIGN_EMSGSIZE);
	expect_rc("post_wait of max+1", foreign_post_wait(t, buf, MAX + 1, NO_LIMIT), FOREIGN_EMSGSIZE);
	struct foreign_iovec three[3] = {{buf, MAX / 2}, {NULL, 0}, {buf, MAX / 2 + 1}};
	expect_rc("postv of max+1 in parts", foreign_postv(t, three, 3), FOREIGN_EMSGSIZE);
	expect_rc("postv_wait of max+1 in parts", foreign_postv_wait(t, three, 3, NO_LIMIT), FOREIGN_EMSGSIZE);
	// Lengths that overflow a size_t when added: refused as too long, not
	// wrapped round to a short message (the bytes are never read).
	struct foreign_iovec huge[3] = {{buf, SIZE_MAX / 2 + 1}, {buf, SIZE_MAX / 2 + 1}, {buf, 3}};
	expect_rc("postv of parts summing past SIZE_MAX", foreign_postv(t, huge, 3), FOREIGN_EMSGSIZE);
	expect_rc("post of SIZE_MAX", foreign_post(t, buf, SIZE_MAX), FOREIGN_EMSGSIZE);
	expect_rc("token 0", foreign_postv(0, v, 1), FOREIGN_EINVAL);
	for (uintptr_t x = 1; x < 70000; x += (x < 256 ? 1 : 4099))
		expect_rc("small integer token", foreign_postv(x, v, 1), FOREIGN_EINVAL);
	uint64_t gen = fq_token_gen(t), idx = (uint64_t)t & (FQ_MAX_QUEUES - 1);
	expect_rc("the next generation's token", foreign_postv((uintptr_t)(((gen + 1) << FQ_IDX_BITS) | idx), v, 1),
	          FOREIGN_EINVAL);
	expect_rc("call into a byte queue", foreign_callv(t, v, 1, buf, sizeof buf, NULL, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("fixed call into a byte queue", foreign_call(t, buf, 8, buf, 8, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("signal to a byte queue", foreign_signal(t, 1), FOREIGN_EINVAL);
	expect_unclaimed("refusals of a byte queue", q.c, s);

	// The edges that are accepted: empty messages of every shape, a list of
	// FOREIGN_IOV_MAX parts, exactly the maximum.
	fq_c_bytes b;
	fq_c_bytes_init(&b, q.c);
	expect_rc("post of NULL, 0 bytes", foreign_post(t, NULL, 0), 0);
	expect_rc("postv of no parts", foreign_postv(t, NULL, 0), 0);
	expect_rc("postv of FOREIGN_IOV_MAX empty parts", foreign_postv(t, iov, FOREIGN_IOV_MAX), 0);
	struct foreign_iovec bytewise[MAX];
	for (int i = 0; i < MAX; i++)
		bytewise[i] = (struct foreign_iovec){buf + i, 1};
	expect_rc("postv of max parts of 1 byte", foreign_postv(t, bytewise, MAX), 0);
	size_t lens[] = {0, 0, 0, MAX};
	const unsigned char *want[] = {buf, buf, buf, buf};
	drain_check(&b, 4, lens, want, "empty messages and parts of 1 byte");
	expect_rc("post of exactly the maximum", foreign_post(t, buf + 1, MAX), 0);
	expect_rc("post_wait of exactly the maximum", foreign_post_wait(t, buf + 2, MAX, 0), 0);
	size_t lens2[] = {MAX, MAX};
	const unsigned char *want2[] = {buf + 1, buf + 2};
	drain_check(&b, 2, lens2, want2, "maximal messages");

	// A full ring nobody drains: posts that do not wait are refused, waits
	// time out no sooner than asked, and leave no reservation and nothing
	// claimed behind.
	// Full for every length: maximal messages, then ever shorter ones,
	// down to empty ones (8 bytes of data each).
	enum { MOST = SIZE / 8 };
	size_t lens3[MOST];
	const unsigned char *want3[MOST];
	int filled = 0, maximal = 0;
	for (int n = MAX; n >= 0; n--)
		while (filled < MOST && foreign_post(t, buf, (size_t)n) == 0) {
			maximal += n == MAX;
			want3[filled] = buf;
			lens3[filled++] = (size_t)n;
		}
	// At least two maximal ones, whatever the position: the ring is twice
	// the largest record, and a pad is shorter than one.
	if (maximal < 2 || foreign_post(t, NULL, 0) != FOREIGN_EFULL)
		fail("bad: a ring of %d bytes took %d messages of %d, and then not an empty one", SIZE, maximal, MAX);
	uint64_t full0 = atomic_load(&q.c->rejected_full);
	s = snap_of(q.c);
	expect_rc("post into a full ring", foreign_postv(t, v, 1), FOREIGN_EFULL);
	expect_rc("post_wait, timeout 0, into a full ring", foreign_post_wait(t, buf, 1, 0), FOREIGN_ETIMEDOUT);
	int64_t t0 = mono_ns();
	expect_rc("postv_wait, timeout 2 ms, into a full ring", foreign_postv_wait(t, three, 2, 2 * MS),
	          FOREIGN_ETIMEDOUT);
	if (mono_ns() - t0 < 2 * MS)
		fail("bad: a wait of 2 ms timed out after %" PRId64 " ns", mono_ns() - t0);
	expect_rc("post of max+1 into a full ring", foreign_post(t, buf, MAX + 1), FOREIGN_EMSGSIZE);
	expect_unclaimed("refusals of a full ring", q.c, s);
	if (atomic_load(&q.c->rejected_full) != full0 + 1)
		fail("bad: rejected_full went from %" PRIu64 " to %" PRIu64 " for one refused post", full0,
		     atomic_load(&q.c->rejected_full));
	if (atomic_load(&q.c->timed_out) < 2)
		fail("bad: timed_out = %" PRIu64 " after two waits timed out", atomic_load(&q.c->timed_out));

	// A waiter cancelled while it sleeps holding the reservation gives it
	// back from its cleanup handler, leaves waiters and counts as given up.
	uint64_t timed1 = atomic_load(&q.c->timed_out);
	_Atomic uint32_t never = 0;
	producer cw = {.token = t, .id = 0, .where = "bad: a cancelled waiter", .waits = 2, .timeout = NO_LIMIT,
	               .max = MAX, .returned = &never, .rng = 1};
	set_streams(1, MAX, MAX, rng);
	pthread_t cwt;
	start_thread(&cwt, producer_main, &cw);
	await_u32(&q.c->waiters, 1, "bad: a waiter to cancel");
	int64_t by = mono_ns() + (int64_t)AWAIT_SECS * 1000000000;
	while ((atomic_load(&q.c->reserve) & FQ_POS_MASK) == 0 && mono_ns() < by)
		sleep_ns(100000);
	sleep_ns(2 * MS); // into fq_wait32, a cancellation point
	if (pthread_cancel(cwt) != 0 || pthread_join(cwt, NULL) != 0)
		fail("bad: cancelling a waiter");
	if (atomic_load(&never) != 0 || (atomic_load(&q.c->reserve) & FQ_POS_MASK) != 0 ||
	    atomic_load(&q.c->waiters) != 0 || atomic_load(&q.c->timed_out) != timed1 + 1)
		fail("bad: a waiter cancelled holding the reservation: returned %" PRIu32 ", reservation %" PRIu64
		     ", waiters %" PRIu32 ", timed_out +%" PRIu64 " (want 0, 0, 0, +1)",
		     atomic_load(&never), atomic_load(&q.c->reserve) & FQ_POS_MASK, atomic_load(&q.c->waiters),
		     atomic_load(&q.c->timed_out) - timed1);
	expect_unclaimed("a waiter cancelled", q.c, s);

	// A waiter asleep on the full ring, holding the reservation, is released
	// by the close; what was accepted is still there.
	_Atomic uint32_t returned = 0;
	producer w = {.token = t, .id = 0, .where = "bad: waiter on a full ring", .n = 0, .waits = 2,
	              .timeout = NO_LIMIT, .max = MAX, .returned = &returned, .rng = 1};
	set_streams(1, MAX, MAX, rng);
	pthread_t wt;
	start_thread(&wt, producer_main, &w);
	await_u32(&q.c->waiters, 1, "bad: a waiter on the full ring");
	int64_t until = mono_ns() + (int64_t)AWAIT_SECS * 1000000000;
	while ((atomic_load(&q.c->reserve) & FQ_POS_MASK) == 0 && mono_ns() < until)
		sleep_ns(100000);
	if ((atomic_load(&q.c->reserve) & FQ_POS_MASK) == 0)
		fail("bad: a waiter on a full ring took no reservation");
	sleep_ns(2 * MS); // into fq_wait32
	if (atomic_load(&returned) != 0)
		fail("bad: a waiter returned from a full ring before the close (%" PRIu64 " sent)", w.sent);
	close_ring(&q);
	await_u32(&returned, 1, "bad: the waiter released by the close");
	pthread_join(wt, NULL);
	if (!w.closed || w.sent != 0 || (atomic_load(&q.c->reserve) & FQ_POS_MASK) != 0 ||
	    atomic_load(&q.c->waiters) != 0)
		fail("bad: after the close: the waiter got ECLOSED %d, sent %" PRIu64 ", reservation %" PRIu64
		     ", waiters %" PRIu32,
		     w.closed, w.sent, atomic_load(&q.c->reserve) & FQ_POS_MASK, atomic_load(&q.c->waiters));
	s = snap_of(q.c);
	expect_rc("postv into a closed ring", foreign_postv(t, v, 1), FOREIGN_ECLOSED);
	expect_rc("postv_wait into a closed ring", foreign_postv_wait(t, three, 2, NO_LIMIT), FOREIGN_ECLOSED);
	expect_rc("max+1 into a closed ring", foreign_post(t, buf, MAX + 1), FOREIGN_ECLOSED);
	expect_unclaimed("refusals of a closed ring", q.c, s);
	drain_check(&b, filled, lens3, want3, "the full ring, closed");
	const unsigned char *p;
	size_t len;
	if (fq_c_next(&b, &p, &len) != -1)
		fail("bad: a closed, drained byte ring does not report -1");
	free_ring(&q);
	expect_rc("postv with a stale token", foreign_postv(t, v, 1), FOREIGN_ECLOSED);
	expect_rc("postv_wait with a stale token", foreign_postv_wait(t, v, 1, NO_LIMIT), FOREIGN_ECLOSED);

	// A list of FOREIGN_IOV_MAX parts of a byte each, into a ring that takes it.
	ring big;
	open_ring(&big, FOREIGN_IOV_MAX, 4 * FOREIGN_IOV_MAX, 0, FQ_WAKE_PIPE, 0, FQ_FLAG_STAMP);
	static unsigned char many[FOREIGN_IOV_MAX];
	static struct foreign_iovec parts[FOREIGN_IOV_MAX];
	for (int i = 0; i < FOREIGN_IOV_MAX; i++) {
		many[i] = (unsigned char)(i * 13 + 5);
		parts[i] = (struct foreign_iovec){many + i, 1};
	}
	expect_rc("postv of FOREIGN_IOV_MAX parts of 1 byte", foreign_postv(big.token, parts, FOREIGN_IOV_MAX), 0);
	fq_c_bytes_init(&b, big.c);
	size_t lens4[] = {FOREIGN_IOV_MAX};
	const unsigned char *want4[] = {many};
	drain_check(&b, 1, lens4, want4, "FOREIGN_IOV_MAX parts");
	close_ring(&big);
	free_ring(&big);
}

// bad_kinds: posts and calls that name the wrong kind of handle, into
// byte rings and cell rings, and fq_open's checks of byte rings.
static void bad_kinds(void) {
	ring f;
	open_ring(&f, 8 + 32, 128, 0, FQ_WAKE_EVENTFD, 1, 0);
	unsigned char buf[64] = {1, 2, 3};
	struct foreign_iovec v[2] = {{buf, 8}, {buf + 8, 8}};
	size_t retlen = 12345;
	snap s = snap_of(f.c);
	expect_rc("post into a byte function", foreign_post(f.token, buf, 8), FOREIGN_EINVAL);
	expect_rc("empty post into a byte function", foreign_post(f.token, NULL, 0), FOREIGN_EINVAL);
	expect_rc("postv into a byte function", foreign_postv(f.token, v, 2), FOREIGN_EINVAL);
	expect_rc("postv_wait into a byte function", foreign_postv_wait(f.token, v, 2, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("fixed call into a byte function", foreign_call(f.token, buf, 8, buf, 8, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("callv of a NULL list", foreign_callv(f.token, NULL, 1, buf, 8, &retlen, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("callv of -1 parts", foreign_callv(f.token, v, -1, buf, 8, &retlen, NO_LIMIT), FOREIGN_EINVAL);
	static struct foreign_iovec none[FOREIGN_IOV_MAX + 1];
	expect_rc("callv of FOREIGN_IOV_MAX + 1 parts",
	          foreign_callv(f.token, none, FOREIGN_IOV_MAX + 1, buf, 8, &retlen, NO_LIMIT), FOREIGN_EINVAL);
	struct foreign_iovec nb[2] = {{buf, 1}, {NULL, 1}};
	expect_rc("callv with a NULL base", foreign_callv(f.token, nb, 2, buf, 8, &retlen, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("callv with a NULL result buffer of 8", foreign_callv(f.token, v, 2, NULL, 8, &retlen, NO_LIMIT),
	          FOREIGN_EINVAL);
	struct foreign_iovec over[2] = {{buf, 16}, {buf, 17}}; // 33 > 40 - 8
	expect_rc("callv of max - 8 + 1", foreign_callv(f.token, over, 2, buf, 8, &retlen, NO_LIMIT), FOREIGN_EMSGSIZE);
	expect_rc("callv to token 0", foreign_callv(0, v, 2, buf, 8, &retlen, NO_LIMIT), FOREIGN_EINVAL);
	if (retlen != 12345)
		fail("bad: a refused call wrote *retlen (%zu)", retlen);
	expect_unclaimed("refusals of a byte function", f.c, s);
	// Nobody serves it: the largest argument is accepted and the call times
	// out; its result, when it comes, is dropped.
	struct foreign_iovec most[2] = {{buf, 16}, {buf, 16}};
	expect_rc("callv of max - 8, unserved", foreign_callv(f.token, most, 2, buf, 8, &retlen, 0), FOREIGN_ETIMEDOUT);
	if (retlen != 12345)
		fail("bad: a call that timed out wrote *retlen (%zu)", retlen);
	fq_c_bytes b;
	fq_c_bytes_init(&b, f.c);
	const unsigned char *p;
	size_t len;
	if (fq_c_next(&b, &p, &len) != 1 || len != 8 + 32 || memcmp(p + 8, buf, 16) != 0 ||
	    memcmp(p + 24, buf, 16) != 0)
		fail("bad: the call of the largest argument is not in the ring as posted");
	uint64_t hdr;
	memcpy(&hdr, p, 8);
	expect_rc("late completion of the unserved call", fq_complete(hdr, 0, buf, 4), 1);
	fq_c_release(&b);
	// Filled with calls nobody serves, then a call that gives up waiting
	// for room: it held the reservation, and leaves it and the ring as they
	// were, its buffer untouched.
	for (int accepted = 0;; accepted++) {
		uint64_t before = atomic_load(&f.c->tail);
		expect_rc("callv, timeout 0, unserved", foreign_callv(f.token, most, 2, buf, 8, &retlen, 0),
		          FOREIGN_ETIMEDOUT);
		if (atomic_load(&f.c->tail) == before)
			break; // not accepted: the ring is full
		if (accepted == 100)
			fail("bad: a byte function of 128 bytes took 100 calls");
	}
	unsigned char rbuf[RETBUF];
	memset(rbuf, 0xa5, sizeof rbuf);
	s = snap_of(f.c);
	uint64_t timed0 = atomic_load(&f.c->timed_out);
	int64_t t0 = mono_ns();
	expect_rc("callv waiting for room, 2 ms", foreign_callv(f.token, most, 2, rbuf + GUARD, 64, &retlen, 2 * MS),
	          FOREIGN_ETIMEDOUT);
	if (mono_ns() - t0 < 2 * MS)
		fail("bad: a call waiting for room gave up before its timeout");
	expect_unclaimed("a call that gave up waiting for room", f.c, s);
	if (!untouched(rbuf, sizeof rbuf) || retlen != 12345 || atomic_load(&f.c->timed_out) != timed0 + 1)
		fail("bad: a call that gave up waiting for room wrote its buffer or *retlen, or was not counted");
	while (fq_c_next(&b, &p, &len) == 1) {
		memcpy(&hdr, p, 8);
		expect_rc("late completion of a call that timed out", fq_complete(hdr, 0, buf, 4), 1);
	}
	fq_c_release(&b);
	close_ring(&f);
	expect_rc("callv into a closed byte function", foreign_callv(f.token, most, 2, buf, 8, &retlen, NO_LIMIT),
	          FOREIGN_ECLOSED);
	free_ring(&f);
	expect_rc("callv with a stale token", foreign_callv(f.token, most, 2, buf, 8, &retlen, NO_LIMIT),
	          FOREIGN_ECLOSED);

	// A cell ring: gather lists must add up to the cell's size exactly.
	// Stamped, so that the gather lands after the stamp.
	enum { CELL = 16 };
	uintptr_t ct;
	fq_ctl *cc;
	fq_open_args ca = {.msg_size = CELL, .capacity = 4, .wake_kind = FQ_WAKE_EVENTFD, .flags = FQ_FLAG_STAMP};
	if (fq_open(&ca, &ct, &cc) != 0)
		fail("bad: fq_open of a cell ring");
	s = snap_of(cc);
	struct foreign_iovec c15[3] = {{buf, 7}, {NULL, 0}, {buf + 7, 8}};
	struct foreign_iovec c17[3] = {{buf, 8}, {buf + 8, 8}, {buf + 16, 1}};
	struct foreign_iovec huge[2] = {{buf, SIZE_MAX / 2 + 1}, {buf, SIZE_MAX / 2 + 1}};
	expect_rc("postv of 15 bytes into a 16-byte cell ring", foreign_postv(ct, c15, 3), FOREIGN_EINVAL);
	expect_rc("postv of 17 bytes into a 16-byte cell ring", foreign_postv(ct, c17, 3), FOREIGN_EINVAL);
	expect_rc("postv_wait of 17 bytes into a cell ring", foreign_postv_wait(ct, c17, 3, NO_LIMIT), FOREIGN_EINVAL);
	expect_rc("postv of parts past SIZE_MAX into a cell ring", foreign_postv(ct, huge, 2), FOREIGN_EINVAL);
	expect_rc("postv of a NULL list into a cell ring", foreign_postv(ct, NULL, 2), FOREIGN_EINVAL);
	expect_rc("postv of no parts into a cell ring", foreign_postv(ct, NULL, 0), FOREIGN_EINVAL);
	expect_rc("callv into a cell queue", foreign_callv(ct, c17, 2, buf, 8, NULL, NO_LIMIT), FOREIGN_EINVAL);
	expect_unclaimed("refusals of a cell ring", cc, s);
	struct foreign_iovec c16[4] = {{NULL, 0}, {buf, 5}, {buf + 5, 11}, {NULL, 0}};
	expect_rc("postv of 16 bytes in parts into a cell ring", foreign_postv(ct, c16, 4), 0);
	expect_rc("postv_wait of 16 bytes in parts into a cell ring", foreign_postv_wait(ct, c16 + 1, 2, 0), 0);
	for (int i = 0; i < 2; i++) {
		unsigned char got[CELL];
		if (fq_c_recv(cc, got) != 1 || memcmp(got, buf, CELL) != 0)
			fail("bad: the gathered cell %d is not the message", i);
	}
	fq_close8(ct);
	int rfd = (int)atomic_load(&cc->read_fd);
	fq_free(ct);
	close(rfd);

	// A cell function: its argument is exactly its size; callv takes a
	// buffer at least its result's size.
	if (fq_open8(8 + CELL, 4, 0, FQ_WAKE_EVENTFD, CELL, 8, &ct, &cc) != 0)
		fail("bad: fq_open of a cell function");
	s = snap_of(cc);
	expect_rc("callv of 17 bytes into a cell function", foreign_callv(ct, c17, 3, buf, 8, NULL, NO_LIMIT),
	          FOREIGN_EINVAL);
	expect_rc("callv into a cell function with a 7-byte buffer", foreign_callv(ct, c16, 4, buf, 7, NULL, NO_LIMIT),
	          FOREIGN_EINVAL);
	expect_rc("postv into a cell function", foreign_postv(ct, c16, 4), FOREIGN_EINVAL);
	expect_unclaimed("refusals of a cell function", cc, s);
	fq_close8(ct);
	rfd = (int)atomic_load(&cc->read_fd);
	fq_free(ct);
	close(rfd);

	// fq_open's checks of a byte ring: at least two of its largest records,
	// a power of two, a maximum in range, no byte signals.
	fq_open_args a = {.msg_size = 100, .capacity = 2 * fq_rec_size(100) / 2, .wake_kind = FQ_WAKE_EVENTFD,
	                  .bytes = 1};
	uintptr_t t;
	fq_ctl *c;
	if (fq_open(&a, &t, &c) != -EINVAL)
		fail("bad: fq_open took a byte ring of one record");
	a.capacity = 3 * 128;
	if (fq_open(&a, &t, &c) != -EINVAL)
		fail("bad: fq_open took a byte ring of %" PRIu64 " bytes", a.capacity);
	a = (fq_open_args){.msg_size = (uint64_t)FQ_MAX_BYTES_MSG + 1, .capacity = FQ_MAX_RING, .bytes = 1,
	                   .wake_kind = FQ_WAKE_EVENTFD};
	if (fq_open(&a, &t, &c) != -EINVAL)
		fail("bad: fq_open took a byte ring of messages over FQ_MAX_BYTES_MSG");
	a = (fq_open_args){.kind = FQ_KIND_INTERRUPT, .bytes = 1, .wake_kind = FQ_WAKE_EVENTFD};
	if (fq_open(&a, &t, &c) != -EINVAL)
		fail("bad: fq_open took a byte interrupt");
	a = (fq_open_args){.msg_size = 4, .capacity = 64, .kind = FQ_KIND_FUNC, .bytes = 1,
	                   .wake_kind = FQ_WAKE_EVENTFD};
	if (fq_open(&a, &t, &c) != -EINVAL)
		fail("bad: fq_open took a byte function whose maximum cannot hold the call's header");
	// Stamps make every record 8 bytes longer: 128 bytes fit twice in 256
	// without them (2 x 128), not with them (2 x 136).
	a = (fq_open_args){.msg_size = 128, .capacity = 256, .bytes = 1, .wake_kind = FQ_WAKE_EVENTFD,
	                   .flags = FQ_FLAG_STAMP};
	if (fq_open(&a, &t, &c) != -EINVAL)
		fail("bad: fq_open took a stamped byte ring of less than two of its largest records");
	a.flags = FQ_FLAG_STAMP << 1;
	if (fq_open(&a, &t, &c) != -EINVAL)
		fail("bad: fq_open took an unknown flag");
}

// ---- call: foreign_callv into a byte function ----------------------------------

// The argument asks for a slow answer (the late thread, after a delay), a
// panic, or a call back into the function from the serving thread first,
// with its first byte; everything else in it is arbitrary. The
// answer, its length and bytes, follows from all of it.
enum { OP_SLOW = 0x5a, OP_PANIC = 0x5b, OP_DEADLK = 0x5c };

static uint64_t arg_hash(const unsigned char *a, size_t n) {
	uint64_t h = 0x243f6a8885a308d3u ^ n;
	for (size_t i = 0; i < n; i++)
		h = mix64(h ^ a[i]);
	return h;
}

// answer_len: 0, a few bytes, the longest, multiples of 8, and many others.
static size_t answer_len(uint64_t h) {
	switch (h & 7) {
	case 0:
		return 0;
	case 1:
		return 1 + (h >> 8) % 7;
	case 2:
		return BIG_RET;
	case 3:
		return 8 * ((h >> 8) % 64);
	default:
		return (h >> 8) % 700;
	}
}

static void answer(uint64_t h, unsigned char *r, size_t n) {
	uint64_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if ((i & 7) == 0)
			w = mix64(h + i);
		r[i] = (uint8_t)(w >> (8 * (i & 7)));
	}
}

typedef struct {
	uint64_t hdr, h;
	int64_t due;
} late_call;

typedef struct {
	ring *r;
	const char *where;
	uint64_t served, panics, deadlocks;
	pthread_mutex_t mu;
	late_call late[LATE_MAX];
	int nlate, stop;
	_Atomic uint64_t late_done, late_dropped;
	uint64_t rng;
} server;

static void *late_main(void *arg) {
	server *s = arg;
	static unsigned char r[BIG_RET]; // only this thread writes it
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
		size_t n = answer_len(lc.h);
		answer(lc.h, r, n);
		if (fq_complete(lc.hdr, 0, r, n) == 0)
			atomic_fetch_add(&s->late_done, 1);
		else
			atomic_fetch_add(&s->late_dropped, 1);
		bump();
	}
}

// server_main serves each call in place in the ring, as bytefunc.go does,
// and releases the record after the completion.
static void *server_main(void *arg) {
	server *s = arg;
	static unsigned char r[BIG_RET]; // one server per phase
	fq_c_bytes b;
	fq_c_bytes_init(&b, s->r->c);
	for (int idle = 0;;) {
		const unsigned char *m;
		size_t len;
		int rc = fq_c_next(&b, &m, &len);
		if (rc == FQ_C_CORRUPT)
			corrupt(&b, s->where);
		if (rc < 0)
			return NULL;
		if (rc == 0) {
			if (++idle < SPIN_BEFORE_PARK) {
				sched_yield();
				continue;
			}
			idle = 0;
			fq_c_bytes_park(&b);
			continue;
		}
		idle = 0;
		if (len < 8)
			fail("%s: a call record of %zu bytes has no header", s->where, len);
		uint64_t hdr;
		memcpy(&hdr, m, 8);
		const unsigned char *a = m + 8;
		size_t alen = len - 8;
		uint64_t h = arg_hash(a, alen);
		uint64_t served = fq_serve_enter(s->r->token);
		if (alen >= 3 && a[0] == OP_SLOW) {
			pthread_mutex_lock(&s->mu);
			if (s->nlate == LATE_MAX)
				fail("%s: more than %d late completions pending", s->where, LATE_MAX);
			s->late[s->nlate++] = (late_call){hdr, h, mono_ns() + (int64_t)(a[1] | a[2] << 8) * 1000};
			pthread_mutex_unlock(&s->mu);
		} else {
			if (alen >= 1 && a[0] == OP_DEADLK) {
				// A handler calling its own function would wait for itself.
				// A finite timeout: a missed check then fails with the wrong
				// code instead of hanging.
				size_t rl = 99;
				struct foreign_iovec one = {a, alen};
				int rc = foreign_callv(s->r->token, &one, 1, r, sizeof r, &rl, 1 * MS);
				if (rc != FOREIGN_EDEADLK || rl != 99)
					fail("%s: foreign_callv from the serving thread = %d (%s), want FOREIGN_EDEADLK", s->where, rc,
					     foreign_strerror(rc));
				s->deadlocks++;
			}
			size_t n = answer_len(h);
			answer(h, r, n);
			int panic = alen >= 1 && a[0] == OP_PANIC;
			if (fq_complete(hdr, panic ? FOREIGN_EPANIC : 0, r, n) != 0)
				fail("%s: a caller with no timeout was gone before its result", s->where);
			s->panics += panic;
		}
		fq_serve_leave(served);
		fq_c_release(&b);
		s->served++;
		bump();
	}
}

static void server_start(server *s, ring *r, const char *where, pthread_t *st, pthread_t *lt) {
	memset(s, 0, sizeof *s);
	s->r = r;
	s->where = where;
	pthread_mutex_init(&s->mu, NULL);
	start_thread(st, server_main, s);
	start_thread(lt, late_main, s);
}

// server_finish waits for the server (the ring closed) and then for the
// late thread to deliver what it holds.
static void server_finish(server *s, pthread_t st, pthread_t lt) {
	pthread_join(st, NULL);
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_mutex_unlock(&s->mu);
	pthread_join(lt, NULL);
	pthread_mutex_destroy(&s->mu);
}

typedef struct {
	uintptr_t token;
	uint32_t id;
	const char *where;
	uint64_t n;          // calls to make; 0: until FOREIGN_ECLOSED
	size_t maxarg;       // the function's longest argument
	int64_t timeout;     // of normal calls
	uint32_t slow_every; // every slow_every-th call is slow (0: none)
	int64_t slow_timeout;
	uint32_t slow_max_us; // a slow call is answered after up to this
	uint64_t rng;

	uint64_t ok, toosmall, panicked, slow_ok, slow_timeouts, retried;
	int closed;
	// Buffers of calls that timed out, kept to be looked at again once
	// every late completion has come.
	unsigned char **kept;
	size_t nkept, capkept;
} caller;


static unsigned char *new_retbuf(void) {
	unsigned char *b = malloc(RETBUF);
	if (b == NULL)
		fail("out of memory");
	memset(b, 0xa5, RETBUF);
	return b;
}

// check_result checks what a call left in buf (ret = buf + GUARD, retcap
// bytes) for a result of want bytes: the result and nothing else, or
// nothing at all.
static void check_result(caller *k, const char *what, int rc, const unsigned char *buf, size_t retcap, size_t want,
                         uint64_t h, size_t retlen) {
	const unsigned char *ret = buf + GUARD;
	if (rc == 0) {
		unsigned char exp[BIG_RET];
		answer(h, exp, want);
		if (retlen != want || memcmp(ret, exp, want) != 0)
			fail("%s: caller %" PRIu32 ": %s: a result of %zu bytes (want %zu), or the wrong bytes", k->where,
			     k->id, what, retlen, want);
		if (!untouched(buf, GUARD) || !untouched(ret + want, RETBUF - GUARD - want))
			fail("%s: caller %" PRIu32 ": %s: the result of %zu bytes wrote outside itself (retcap %zu)",
			     k->where, k->id, what, want, retcap);
	} else if (!untouched(buf, RETBUF)) {
		fail("%s: caller %" PRIu32 ": %s: a call that returned %d (%s) wrote into the buffer (retcap %zu, "
		     "result %zu)",
		     k->where, k->id, what, rc, foreign_strerror(rc), retcap, want);
	}
}

static void *caller_main(void *arg) {
	caller *k = arg;
	unsigned char a[BIG_MSG];
	unsigned char *buf = new_retbuf();
	for (uint64_t i = 0; k->n == 0 || i < k->n; i++) {
		int slow = k->slow_every != 0 && i % k->slow_every == 0;
		// The argument: 0..maxarg bytes, the edges often.
		uint64_t r = next_rand(&k->rng);
		size_t alen = (r & 7) == 0 ? 0 : (r & 7) == 1 ? k->maxarg : (size_t)((r >> 3) % (k->maxarg + 1));
		if (slow && alen < 3)
			alen = 3;
		for (size_t j = 0; j < alen; j++)
			a[j] = (unsigned char)next_rand(&k->rng);
		int panic = !slow && alen >= 1 && (r >> 40) % 41 == 0;
		int deadlk = !slow && !panic && alen >= 1 && (r >> 40) % 37 == 0;
		if (slow) {
			a[0] = OP_SLOW;
			uint32_t d = (uint32_t)(next_rand(&k->rng) % (k->slow_max_us + 1));
			a[1] = (unsigned char)d;
			a[2] = (unsigned char)(d >> 8);
		} else if (alen >= 1 && (a[0] == OP_SLOW || a[0] == OP_PANIC || a[0] == OP_DEADLK || panic || deadlk)) {
			a[0] = panic ? OP_PANIC : deadlk ? OP_DEADLK : 0;
		}
		uint64_t h = arg_hash(a, alen);
		size_t want = answer_len(h);
		// The room: exactly the result, one byte short, none, a little
		// more, anything.
		uint64_t q = next_rand(&k->rng);
		size_t retcap;
		switch (q & 7) {
		case 0:
		case 1:
			retcap = want;
			break;
		case 2:
			retcap = want > 0 ? want - 1 : 0;
			break;
		case 3:
			retcap = 0;
			break;
		case 4:
			retcap = want + (q >> 8) % 64;
			break;
		default:
			retcap = (size_t)((q >> 8) % (BIG_RET + 64 + 1));
		}
		struct foreign_iovec iov[4];
		int parts = split(iov, a, alen, &k->rng);
		size_t retlen = 777777;
		unsigned char *ret = retcap == 0 && (q & 8) ? NULL : buf + GUARD;
		int rc = foreign_callv(k->token, iov, parts, ret, retcap, (q & 16) ? NULL : &retlen,
		                       slow ? k->slow_timeout : k->timeout);
		if (q & 16)
			retlen = rc == 0 || rc == FOREIGN_EMSGSIZE ? want : 777777; // not asked for
		check_result(k, "call", rc, buf, retcap, want, h, retlen);
		if (rc == 0 || rc == FOREIGN_EMSGSIZE) {
			if (panic)
				fail("%s: caller %" PRIu32 ": a call whose handler panicked returned %d", k->where, k->id, rc);
			if ((rc == 0) != (want <= retcap))
				fail("%s: caller %" PRIu32 ": a result of %zu bytes for %zu of room returned %d (%s)", k->where,
				     k->id, want, retcap, rc, foreign_strerror(rc));
			if (retlen != want)
				fail("%s: caller %" PRIu32 ": *retlen = %zu for a result of %zu bytes (rc %d)", k->where, k->id,
				     retlen, want, rc);
			k->ok += rc == 0;
			k->toosmall += rc == FOREIGN_EMSGSIZE;
			k->slow_ok += slow;
			if (rc == FOREIGN_EMSGSIZE && (q & 32) && !slow) {
				// A retry with the room *retlen asked for gets the result.
				memset(buf, 0xa5, RETBUF);
				rc = foreign_callv(k->token, iov, parts, buf + GUARD, retlen, &retlen, k->timeout);
				if (rc == FOREIGN_ECLOSED && k->n == 0) {
					check_result(k, "retry refused by the close", rc, buf, want, want, h, retlen);
					k->closed = 1;
					break;
				}
				if (rc != 0)
					fail("%s: caller %" PRIu32 ": the retry with %zu bytes of room: %d (%s)", k->where, k->id,
					     want, rc, foreign_strerror(rc));
				check_result(k, "retry with the room asked for", rc, buf, want, want, h, retlen);
				k->retried++;
			}
		} else if (rc == FOREIGN_EPANIC && panic) {
			if (retlen != 777777)
				fail("%s: caller %" PRIu32 ": FOREIGN_EPANIC wrote *retlen", k->where, k->id);
			k->panicked++;
		} else if (rc == FOREIGN_ETIMEDOUT && slow) {
			if (retlen != 777777)
				fail("%s: caller %" PRIu32 ": a call that timed out wrote *retlen", k->where, k->id);
			k->slow_timeouts++;
			// The buffer is the caller's again: its result must never land
			// in it. Half are kept and looked at once every completion has
			// come; half are freed now, for AddressSanitizer to see a late
			// write.
			if (next_rand(&k->rng) & 1) {
				if (k->nkept == k->capkept) {
					k->capkept = k->capkept ? 2 * k->capkept : 16;
					k->kept = realloc(k->kept, k->capkept * sizeof *k->kept);
					if (k->kept == NULL)
						fail("out of memory");
				}
				k->kept[k->nkept++] = buf;
			} else {
				free(buf);
			}
			buf = new_retbuf();
			bump();
			continue;
		} else if (rc == FOREIGN_ECLOSED && k->n == 0) {
			k->closed = 1;
			break;
		} else {
			fail("%s: caller %" PRIu32 " call %" PRIu64 " (arg %zu bytes, slow %d, panic %d): %d (%s)", k->where,
			     k->id, i, alen, slow, panic, rc, foreign_strerror(rc));
		}
		memset(buf, 0xa5, RETBUF);
		bump();
	}
	free(buf);
	return NULL;
}

// check_kept looks at the buffers of the calls that timed out, after every
// late completion has come, and frees them.
static void check_kept(caller *k) {
	for (size_t i = 0; i < k->nkept; i++) {
		if (!untouched(k->kept[i], RETBUF))
			fail("%s: caller %" PRIu32 ": a call that timed out had its buffer written after it returned",
			     k->where, k->id);
		free(k->kept[i]);
	}
	free(k->kept);
	k->kept = NULL;
	k->nkept = k->capkept = 0;
}

enum { MAXARG = 120 };

// call_run: ncallers make n calls each into a byte function of a small
// ring (so calls wait for room), or with slow calls into a ring that holds
// a call from every caller (so a timeout is a caller giving up on its
// result, never on room).
static void call_run(const char *where, int ncallers, uint64_t n, int slow, uint32_t flags, uint64_t *rng) {
	atomic_store(&phase, where);
	enum { NCALLERS = 8 };
	ring f;
	uint64_t size = slow ? 8192 : 512; // 512 is two of the largest records (136 bytes) and a bit
	open_ring(&f, 8 + MAXARG, size, near_wrap(size, rng), slow ? FQ_WAKE_PIPE : FQ_WAKE_EVENTFD, 1, flags);
	server s;
	pthread_t st, lt, ct[NCALLERS];
	server_start(&s, &f, where, &st, &lt);
	caller ks[NCALLERS];
	for (int i = 0; i < ncallers; i++) {
		ks[i] = (caller){.token = f.token, .id = (uint32_t)i, .where = where, .n = n, .maxarg = MAXARG,
		                 .timeout = (i & 1) ? LONG_LIMIT : NO_LIMIT, .rng = next_rand(rng) | 1};
		if (slow) {
			ks[i].slow_every = 2 + (uint32_t)(i % 2);
			ks[i].slow_timeout = 1 * MS;
			ks[i].slow_max_us = 4000;
		}
		start_thread(&ct[i], caller_main, &ks[i]);
	}
	for (int i = 0; i < ncallers; i++)
		pthread_join(ct[i], NULL);
	uint64_t end = close_ring(&f);
	server_finish(&s, st, lt);
	uint64_t ok = 0, toosmall = 0, panicked = 0, slow_ok = 0, slow_to = 0, retried = 0;
	for (int i = 0; i < ncallers; i++) {
		check_kept(&ks[i]);
		ok += ks[i].ok;
		toosmall += ks[i].toosmall;
		panicked += ks[i].panicked;
		slow_ok += ks[i].slow_ok;
		slow_to += ks[i].slow_timeouts;
		retried += ks[i].retried;
	}
	uint64_t calls = (uint64_t)ncallers * n + retried;
	if (ok + toosmall + panicked + slow_to + retried != calls || s.served != calls || s.panics != panicked)
		fail("%s: %" PRIu64 " ok + %" PRIu64 " EMSGSIZE + %" PRIu64 " panicked + %" PRIu64 " timed out + %" PRIu64
		     " retried of %" PRIu64 " calls; %" PRIu64 " served, %" PRIu64 " panics",
		     where, ok, toosmall, panicked, slow_to, retried, calls, s.served, s.panics);
	// A slow call timed out exactly when its late completion was dropped.
	if (slow_to != atomic_load(&s.late_dropped) || slow_ok != atomic_load(&s.late_done))
		fail("%s: callers saw %" PRIu64 " slow calls time out and %" PRIu64 " succeed; %" PRIu64
		     " late completions were dropped and %" PRIu64 " delivered",
		     where, slow_to, slow_ok, atomic_load(&s.late_dropped), atomic_load(&s.late_done));
	if (atomic_load(&f.c->timed_out) != slow_to)
		fail("%s: timed_out = %" PRIu64 ", but %" PRIu64 " calls timed out", where, atomic_load(&f.c->timed_out),
		     slow_to);
	if (toosmall == 0 || (slow && slow_to == 0) || (!slow && (panicked == 0 || retried == 0 || s.deadlocks == 0)))
		fail("%s: a path was not exercised: %" PRIu64 " EMSGSIZE, %" PRIu64 " retried, %" PRIu64 " panics, %" PRIu64
		     " timeouts, %" PRIu64 " calls back from the server",
		     where, toosmall, retried, panicked, slow_to, s.deadlocks);
	if (atomic_load(&f.c->waiters) != 0 || (atomic_load(&f.c->reserve) & FQ_POS_MASK) != 0 ||
	    atomic_load(&f.c->msgs) != s.served)
		fail("%s: waiters %" PRIu32 ", reservation %" PRIu64 ", %" PRIu64 " calls counted, %" PRIu64 " served",
		     where, atomic_load(&f.c->waiters), atomic_load(&f.c->reserve) & FQ_POS_MASK,
		     atomic_load(&f.c->msgs), s.served);
	(void)end;
	printf("bytes: %-34s %" PRIu64 " calls: %" PRIu64 " ok, %" PRIu64 " EMSGSIZE (%" PRIu64 " retried), %" PRIu64
	       " panics, %" PRIu64 " EDEADLK, %" PRIu64 " timed out\n",
	       where, calls, ok, toosmall, retried, panicked, s.deadlocks, slow_to);
	free_ring(&f);
}

// call_close_rounds: callers call until refused while the function is
// closed at a random moment; every accepted call is answered.
static void call_close_rounds(int rounds, uint64_t *rng) {
	static const char where[] = "call/close";
	atomic_store(&phase, where);
	enum { NCALLERS = 6 };
	for (int round = 0; round < rounds; round++) {
		ring f;
		open_ring(&f, 8 + MAXARG, 512, (round & 1) ? near_wrap(512, rng) : 0, FQ_WAKE_EVENTFD, 1,
		          (round & 2) ? FQ_FLAG_STAMP : 0);
		server s;
		pthread_t st, lt, ct[NCALLERS];
		server_start(&s, &f, where, &st, &lt);
		caller ks[NCALLERS];
		for (int i = 0; i < NCALLERS; i++) {
			ks[i] = (caller){.token = f.token, .id = (uint32_t)i, .where = where, .maxarg = MAXARG,
			                 .timeout = (i & 1) ? LONG_LIMIT : NO_LIMIT, .rng = next_rand(rng) | 1};
			start_thread(&ct[i], caller_main, &ks[i]);
		}
		sleep_ns((long)(next_rand(rng) % 3000000));
		close_ring(&f);
		server_finish(&s, st, lt);
		free_ring(&f);
		uint64_t answered = 0;
		for (int i = 0; i < NCALLERS; i++) {
			pthread_join(ct[i], NULL);
			if (!ks[i].closed)
				fail("call/close round %d: caller %d ended without FOREIGN_ECLOSED", round, i);
			answered += ks[i].ok + ks[i].toosmall + ks[i].panicked + ks[i].retried;
			check_kept(&ks[i]);
		}
		if (answered != s.served)
			fail("call/close round %d: %" PRIu64 " calls served, %" PRIu64 " answered", round, s.served, answered);
		if (atomic_load(&f.c->waiters) != 0 || (atomic_load(&f.c->reserve) & FQ_POS_MASK) != 0)
			fail("call/close round %d: waiters %" PRIu32 ", reservation %" PRIu64 " at the end", round,
			     atomic_load(&f.c->waiters), atomic_load(&f.c->reserve) & FQ_POS_MASK);
		bump();
	}
	printf("bytes: %-34s %d rounds\n", where, rounds);
}

// ---- main ----------------------------------------------------------------------

// The sizes at scale 1, chosen to keep a run to a few seconds under either
// sanitizer on two cores.
enum {
	ORDER_MSGS = 12000,  // per producer, per ring shape (a quarter for the large ones)
	RESERVE_MSGS = 60,   // per waiter
	CLOSE_ROUNDS = 150,  // close rounds
	SERVE_CALLS = 1500,  // per caller
	TIMEOUT_CALLS = 300, // per caller
	CALL_CLOSE_ROUNDS = 40,
};

// begin names the phase now running and reports how long the previous one
// took, so that CI logs show where the time goes.
static void begin(const char *name) {
	static const char *cur;
	static int64_t since;
	int64_t now = mono_ns();
	if (cur != NULL)
		printf("bytes: %-12s ok (%.2fs)\n", cur, (double)(now - since) / 1e9);
	cur = name;
	since = now;
	if (name != NULL)
		atomic_store(&phase, name);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0); // a failure _exits; what passed is in the log
	seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (argc > 1)
		scale = atoi(argv[1]);
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 10);
	if (argc > 3 || scale < 1) {
		fprintf(stderr, "usage: bytes [scale [seed]]\n");
		return 2;
	}
	if (seed == 0)
		seed = 1; // xorshift's one fixed point
	printf("bytes: seed %" PRIu64 ", scale %d\n", seed, scale);
	uint64_t rng = seed;
	signal(SIGALRM, on_alarm);
	alarm(RUN_SECS * (unsigned)scale);

	pthread_t wd;
	start_thread(&wd, watchdog_main, NULL);
	double t0 = now_sec();

	begin("order");
	uint64_t wakeups = 0;
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		order_run(&shapes[i], (i & 1) ? FQ_WAKE_PIPE : FQ_WAKE_EVENTFD, ORDER_MSGS * (uint64_t)scale, &wakeups,
		          &rng);
	if (wakeups == 0)
		fail("order: no producer ever woke a parked consumer");
	begin("reserve");
	// Both ways to sleep and wake: the futex and the condition-variable
	// fallback (switched only here, with no thread waiting).
	for (int futex = 1; futex >= 0; futex--) {
		fq_set_futex(futex);
		reserve_turns(futex ? 0 : FQ_FLAG_STAMP, &rng);
	}
	fq_set_futex(1);
	reserve_run("reserve/deadline", 3, 3, RESERVE_MSGS * (uint64_t)scale, RESERVE_TIMEOUT, 0, &rng);
	reserve_run("reserve/short timeouts", 3, 3, RESERVE_MSGS * (uint64_t)scale, 300000, 1, &rng);
	begin("close");
	close_rounds(CLOSE_ROUNDS * scale, &rng);
	begin("bad");
	for (int futex = 1; futex >= 0; futex--) {
		fq_set_futex(futex);
		bad_queue(&rng);
	}
	fq_set_futex(1);
	bad_kinds();
	begin("call");
	call_run("call/serve", 6, SERVE_CALLS * (uint64_t)scale, 0, 0, &rng);
	call_run("call/timeout", 4, TIMEOUT_CALLS * (uint64_t)scale, 1, FQ_FLAG_STAMP, &rng);
	call_close_rounds(CALL_CLOSE_ROUNDS * scale, &rng);
	begin(NULL);

	atomic_store(&watchdog_stop, 1);
	pthread_join(wd, NULL);
	printf("bytes: ok: seed %" PRIu64 ", %.1fs\n", seed, now_sec() - t0);
	return 0;
}
