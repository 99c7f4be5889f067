/*
 * harness.h: the C half of the benchmark harness (package bench).
 *
 * Two kinds of C thread:
 *
 * A prober is one pthread that makes calls at a steady paced rate and times
 * each one, the way a real-time or network thread would see them. Pacing
 * busy-waits on the clock (a sleep would add the scheduler's wake-up latency
 * to the schedule and let the CPU drop into idle states between calls). The
 * thread lives as long as the prober, so a thread that calls into Go binds
 * its Go runtime M once, not once per burst.
 *
 * A throughput run is N producer pthreads that each send M messages as fast
 * as they can, plus, for the C-only floor, a C consumer pthread on the same
 * ring the Go consumer uses.
 *
 * Times are taken with the TSC on x86 (cheap enough that the timing floor is
 * a few nanoseconds), calibrated against CLOCK_MONOTONIC once per process,
 * and with CLOCK_MONOTONIC elsewhere.
 */
#ifndef FOREIGN_BENCH_HARNESS_H
#define FOREIGN_BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* The message every strategy carries (msg in cgo.go mirrors it). */
typedef struct {
	uint64_t seq;      /* per producer: 0, 1, 2, ... with no gaps */
	uint32_t producer; /* 0 .. producers-1 */
	uint32_t spare;
} bh_msg;

/* What the timed call or the producer's send does. */
enum {
	BH_NOOP = 1,    /* call an empty C function through a pointer */
	BH_FOREIGN,     /* foreign_post(token, &msg, sizeof msg) */
	BH_EXPORT,      /* call the exported Go function bhGoCall */
	BH_EXPORT_CHAN, /* call bhGoSend, which sends on a Go channel */
	BH_CRING,       /* foreign_post into a ring drained by a C thread */
	BH_EVENTFD,     /* write 1 to an eventfd per event (alt.c) */
	BH_PIPE,        /* write the message to a pipe per event (alt.c) */
	BH_ASYNC,       /* coalescing wake-up, latest value wins (alt.c) */
	BH_CONDVAR,     /* push onto a mutex + condvar queue (alt.c) */
	BH_CALL,        /* foreign_call into a foreign.Func (round trip) */
	BH_CALL_CV,     /* mutex + condvar handshake with a Go goroutine (alt.c) */
	BH_WAKE,        /* foreign_post of {seq, send ticks}: wake-up latency */
	BH_WAKE_PIPE,   /* pipe write of {seq, send ticks}: wake-up latency */
	BH_BYTES,       /* a byte string sent as a bh_bdest says (bytes.c) */
};

/* A return code of the harness's own, distinct from every FOREIGN_E*:
 * the Go function gave the wrong answer. */
#define BH_EBADREPLY (-100)

/* CLOCK_MONOTONIC in nanoseconds; the clock Go's monotonic time also reads. */
uint64_t bh_now_ns(void);
/* Nanoseconds per tick of the clock the samples are taken with. */
double bh_ns_per_tick(void);

/* ---- Paced latency probe ---- */

typedef struct bh_prober bh_prober;

/* What one burst did. Counts cover the warm-up calls too. */
typedef struct {
	uint64_t accepted; /* calls that returned 0 (for posts: accepted) */
	uint64_t rejected; /* posts refused with FOREIGN_EFULL (not retried) */
	uint64_t failed;   /* any other return code */
	int64_t last_code; /* the last such code */
	uint64_t late;     /* timed calls that started late because the one
	                    * before overran its slot */
} bh_burst;

/* bh_prober_new starts a prober thread. target is the token (BH_FOREIGN) or
 * the Go sink index (BH_EXPORT_CHAN); cap is the most timed events one burst
 * may have. Returns NULL with *err set to a negative errno on failure. */
bh_prober *bh_prober_new(int kind, uintptr_t target, uint64_t cap, int *err);

/* bh_prober_run makes warmup untimed calls and then events timed calls,
 * one every period_ns, and waits for the prober thread to finish them.
 * Sequence numbers continue from the previous burst and advance only on
 * accepted calls, so a consumer sees 0, 1, 2, ... with no gaps. It returns
 * the burst's counts, valid until the next run, or NULL if events is more
 * than the prober's cap. (A result in C memory: a Go variable passed to C
 * would escape to the heap, and the harness counts Go allocations.) */
const bh_burst *bh_prober_run(bh_prober *p, uint64_t warmup, uint64_t events, double period_ns);

/* bh_prober_run_here is bh_prober_run on the calling thread instead of the
 * prober's: from Go, a thread the Go runtime created, blocked in C for the
 * whole burst (a C main loop or a GUI toolkit calling back). */
const bh_burst *bh_prober_run_here(bh_prober *p, uint64_t warmup, uint64_t events, double period_ns);

/* The last burst's samples, in ticks (see bh_ns_per_tick); valid until the
 * next bh_prober_run or bh_prober_free. */
const uint64_t *bh_prober_samples(const bh_prober *p);

/* bh_prober_free stops and joins the thread and frees the prober. */
void bh_prober_free(bh_prober *p);

/* ---- Throughput ---- */

typedef struct bh_tput bh_tput;

typedef struct {
	uint64_t start_ns;     /* the earliest producer's first send */
	uint64_t end_ns;       /* BH_CRING: the consumer's last receive */
	uint64_t retries;      /* posts refused as full, then retried */
	uint64_t sent;         /* messages the producers got accepted */
	uint64_t received;     /* BH_CRING: messages the consumer received */
	uint64_t out_of_order; /* BH_CRING: sequence gaps or repeats */
	uint64_t wakeups;      /* BH_CRING: wake-ups the producers wrote */
	int64_t bad_code;      /* a producer's unexpected return code, or 0 */
	uint64_t prod_end_ns;  /* the last producer's return from its last send */
} bh_tput_result;

/* bh_tput_new starts producers pthreads, each waiting to send messages
 * messages to target (a token for BH_FOREIGN, a Go sink index for
 * BH_EXPORT_CHAN). For BH_CRING, ring is the control block of the queue
 * target names, opened by the Go side, which frees it after
 * bh_tput_finish; a C consumer thread drains it. Returns NULL with *err
 * set on failure. */
bh_tput *bh_tput_new(int kind, uintptr_t target, void *ring, int producers, uint64_t messages, int *err);
/* bh_tput_start lets the producers go. */
void bh_tput_start(bh_tput *t);
/* bh_tput_wait waits up to timeout_ns for the C consumer (BH_CRING) to
 * receive everything, or for a producer to fail. Returns 1 if the consumer
 * is done, 0 otherwise. Other kinds return 0 at once. */
int bh_tput_wait(bh_tput *t, int64_t timeout_ns);
/* bh_tput_producers_done reports whether every producer has finished. */
int bh_tput_producers_done(bh_tput *t);
/* bh_tput_failed reports whether a producer stopped on an unexpected code. */
int bh_tput_failed(bh_tput *t);
/* bh_tput_abort makes producers that are retrying give up, and closes the
 * C ring so that its consumer drains and stops. */
void bh_tput_abort(bh_tput *t);
/* bh_tput_finish joins every thread, releases the ring, fills *out and frees
 * t. For the Go consumers, call it after they have what they will get. */
void bh_tput_finish(bh_tput *t, bh_tput_result *out);

/* ---- The alternatives' shared state (alt.c) ---- */

/* The clock samples are taken with (see bh_ns_per_tick), for Go. */
uint64_t bh_now_ticks(void);

/* The call functions of the kinds above; target is the kind's state. */
int bh_call_eventfd(uintptr_t target, const bh_msg *m);
int bh_call_pipe(uintptr_t target, const bh_msg *m);
int bh_call_async(uintptr_t target, const bh_msg *m);
int bh_call_condvar(uintptr_t target, const bh_msg *m);
int bh_call_foreign_call(uintptr_t target, const bh_msg *m);
int bh_call_cv(uintptr_t target, const bh_msg *m);
int bh_call_wake(uintptr_t target, const bh_msg *m);
int bh_call_wake_pipe(uintptr_t target, const bh_msg *m);

/* A coalescing wake-up in the style of libuv's uv_async_send: a producer
 * stores its value (latest wins) and writes the eventfd only when it is the
 * one to set pending; the consumer clears pending, then reads the value. */
typedef struct bh_async bh_async;
/* bh_eventfd makes a non-blocking eventfd (for Go's poller) or returns
 * a negative errno. */
int bh_eventfd(void);
/* bh_async_new wakes through fd, which stays the caller's. */
bh_async *bh_async_new(int fd);
uint64_t bh_async_take(bh_async *a);   /* clear pending, return the latest value */
uint64_t bh_async_latest(bh_async *a); /* the latest value, pending untouched */
void bh_async_free(bh_async *a);

/* A bounded FIFO of bh_msg under one mutex, producers wait on a condvar
 * while it is full and the consumer while it is empty: the textbook queue. */
typedef struct bh_cvq bh_cvq;
bh_cvq *bh_cvq_new(uint64_t capacity, int *err);
/* bh_cvq_pop waits until the queue holds a message or is closed, then moves
 * up to max messages into out. Returns the count, or -1 closed and empty. */
int bh_cvq_pop(bh_cvq *q, bh_msg *out, int max);
void bh_cvq_close(bh_cvq *q);
void bh_cvq_free(bh_cvq *q);

/* A one-slot request/reply handshake under a mutex and two condvars: the
 * caller (C) posts an argument and waits for the reply; a Go goroutine
 * serves by blocking in bh_rpc_serve. */
typedef struct bh_rpc bh_rpc;
bh_rpc *bh_rpc_new(int *err);
/* bh_rpc_serve answers the previous request with ret (unless first is set),
 * then waits for the next one and stores its argument in *arg. Returns 0,
 * or -1 once closed. */
int bh_rpc_serve(bh_rpc *r, int first, uint64_t ret, uint64_t *arg);
void bh_rpc_close(bh_rpc *r);
void bh_rpc_free(bh_rpc *r);

/* ---- A fresh thread per event (alt.c) ---- */

/* bh_fresh creates and joins a thread per event, n times; each thread
 * makes one call of kind (BH_NOOP: nothing but create and join, BH_FOREIGN,
 * BH_EXPORT) with sequence number i. out[i] gets the ticks from just before
 * pthread_create to just after pthread_join. Returns 0, a call's failing
 * code, or a negative errno. */
int bh_fresh(int kind, uintptr_t target, uint64_t n, uint64_t *out);

/* ---- Go functions the threads call (export.go) ---- */

/* bhGoCall returns seq+1: a call into Go with a checkable reply. */
extern uint64_t bhGoCall(uint64_t seq);
/* bhGoSend sends {seq, producer} on the channel of Go sink number sink. */
extern void bhGoSend(uintptr_t sink, uint64_t seq, uint32_t producer);

/* ---- Byte strings (bytes.c) ---- */

/* Every byte string starts with this header; the rest is payload, whose
 * last byte is the low byte of seq (when there is a payload). */
typedef struct {
	uint64_t seq;      /* per producer: 0, 1, 2, ... with no gaps */
	uint32_t producer; /* 0 .. producers-1 */
	uint32_t len;      /* the whole message's length */
} bh_bhdr;
#define BH_BHDR 16

/* How a byte string goes to Go. */
enum {
	BH_B_POST = 1,  /* foreign_post(token, msg, len) into a foreign.ByteQueue */
	BH_B_POSTV,     /* foreign_postv: the header and the payload, two parts */
	BH_B_GOBYTES,   /* bhGoBytes: an //export callback, C.GoBytes, a channel */
	BH_B_POOL,      /* bhGoPool: the same, copying into a pooled buffer */
	BH_B_PIPE,      /* writev of [u64 len][message] to a pipe */
	BH_B_SEQPACKET, /* send of the message on an AF_UNIX SOCK_SEQPACKET socket */
	BH_B_MEMCPY,    /* memcpy into a buffer of the ring's size: the limit */
};

/* A destination: how, the token, fd or Go sink index, every message's
 * size, and one sender per producer thread (each with its own message
 * buffer; memcpy: its own ring-size destination). */
typedef struct bh_bdest bh_bdest;
typedef struct bh_bsender bh_bsender;
bh_bdest *bh_bdest_new(int how, uintptr_t target, uint64_t size, int producers, uint64_t ring, int wait, int *err);
void bh_bdest_free(bh_bdest *d);
/* bh_bsend sends message seq of the sender; 0, a FOREIGN_E* code or -errno.
 * With wait, a byte-queue post that finds the queue full waits for room
 * with foreign_post_wait (foreign_postv_wait), up to 100 ms at a time. */
int bh_bsend(bh_bsender *s, uint64_t seq);
/* BH_BYTES's call: target is a bh_bdest, m->producer the sender. */
int bh_call_bytes(uintptr_t target, const bh_msg *m);
/* Byte-queue posts that found the queue full and waited, all senders. */
uint64_t bh_bdest_waits(bh_bdest *d);
/* A sum over the memcpy destinations, so that no copy can be elided. */
uint64_t bh_bdest_checksum(bh_bdest *d);

/* bhGoBytes and bhGoPool (export.go) hand n bytes at p to Go sink number
 * sink: the one with C.GoBytes, the other copying into a pooled buffer. */
extern void bhGoBytes(uintptr_t sink, void *p, size_t n);
extern void bhGoPool(uintptr_t sink, void *p, size_t n);

/* bh_futex_floor (floor.c): the C-only floors, events times, one every
 * gap_ns: pingpong 0, a C thread waking a C thread parked on a futex (ticks
 * from the wake to the waiter running); 1, a C caller waking a C server and
 * sleeping until it answers (ticks of the round trip). 0 or -errno. */
int bh_futex_floor(int pingpong, int events, int64_t gap_ns, uint64_t *ticks);

/* bh_spinner (floor.c): a C thread spinning until stopped. */
typedef struct bh_spinner bh_spinner;
bh_spinner *bh_spinner_start(void); /* NULL if no thread could be made */
void bh_spinner_stop(bh_spinner *s);

/* bh_giveup (alt.c): n calls that each give up after timeout_ns; see there. */
int bh_giveup(uintptr_t target, int n, int64_t timeout_ns, int64_t gap_ns, uint64_t *ticks);

/* A gate goroutines block on in C (floor.c; the blocked-in-c load). */
typedef struct bh_block bh_block;
bh_block *bh_block_new(void);
void bh_block_wait(bh_block *b);     /* until released */
int bh_block_blocked(bh_block *b);   /* callers inside bh_block_wait */
void bh_block_release(bh_block *b);
void bh_block_free(bh_block *b);

#endif /* FOREIGN_BENCH_HARNESS_H */
