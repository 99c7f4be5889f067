// cthreads.h: C threads that post into a foreign queue, for the tests.
#ifndef FOREIGN_CTHREADS_H
#define FOREIGN_CTHREADS_H

#include <stddef.h>
#include <stdint.h>

// The message every harness thread posts: who, and its sequence number.
typedef struct {
	uint32_t producer;
	uint32_t pad;
	uint64_t seq;
} ct_msg;

typedef struct ct_producers ct_producers;

// ct_start runs n pthreads; thread i posts msgs {first_id+i, 0..count-1}.
// With until_closed, each posts until FOREIGN_ECLOSED (count is ignored).
// EFULL is retried after sched_yield and counted.
ct_producers *ct_start(uintptr_t token, int n, uint32_t first_id, uint64_t count, int until_closed);
// ct_join waits for the threads; accepted[i] is thread i's count of
// successful posts (they carry seq 0..accepted[i]-1). Returns 0 or -1 if
// a thread saw an unexpected return code (stored in *bad_code).
int ct_join(ct_producers *p, uint64_t *accepted, uint64_t *full_retries, int *bad_code);

// ct_fresh_threads creates n threads one after another; each posts one
// message {producer, i} and exits. Returns how many were accepted, or -1.
int64_t ct_fresh_threads(uintptr_t token, uint32_t producer, int n);

// ct_signal_storm: a producer thread posts {producer, seq} in a loop while a
// POSIX timer (SIGEV_THREAD_ID) fires SIGUSR1 at it every interval_ns, and a
// second, process-wide timer fires at whatever thread the kernel picks; the
// handlers post {producer+1, seq} and {producer+2, seq} from signal context.
// Runs for duration_ns. Fills counts: accepted by thread loop, by the
// thread-directed handler, by the process-wide handler, handler runs, and
// handler posts refused as full.
typedef struct {
	uint64_t loop_accepted, tsig_accepted, psig_accepted;
	uint64_t tsig_runs, psig_runs, sig_full;
	int bad_code;
} ct_storm_result;
int ct_signal_storm(uintptr_t token, uint32_t producer, int64_t interval_ns, int64_t duration_ns,
                    ct_storm_result *out);

// Callers: n pthreads, each makes count foreign_calls with arg {id, seq}
// and expects ret == seq*3 + id (what the tests' Go function computes).
// With until_closed they call until FOREIGN_ECLOSED. Codes are counted.
typedef struct {
	uint64_t ok, timedout, closed, panicked, wrong, other;
	int other_code;
} ct_call_result;
typedef struct ct_callers ct_callers;
ct_callers *ct_callers_start(uintptr_t token, int n, uint32_t first_id, uint64_t count, int64_t timeout_ns,
                             int until_closed);
void ct_callers_join(ct_callers *c, ct_call_result *out);

// ct_call makes one foreign_call from the current thread.
int ct_call(uintptr_t token, const void *arg, size_t arglen, void *ret, size_t retlen, int64_t timeout_ns);

// Waiters: n pthreads, each posts count messages {first_id+i, seq} with
// foreign_post_wait (timeout per post), stopping at the first error.
// accepted[i] as for ct_join; codes[i] is the error that stopped thread i.
typedef struct ct_waiters ct_waiters;
ct_waiters *ct_waiters_start(uintptr_t token, int n, uint32_t first_id, uint64_t count, int64_t timeout_ns);
void ct_waiters_join(ct_waiters *w, uint64_t *accepted, int *codes);

// Triggers: n threads, each count times, foreign_signal(token, id*1e6+i)
// (interrupt) or foreign_post(token, NULL, 0) (notifier). Counts by code.
typedef struct {
	uint64_t ok, closed, other;
	int other_code;
} ct_trig_result;
void ct_trigger_threads(uintptr_t token, int n, uint64_t count, int interrupt, ct_trig_result *out);

// ct_trigger_storm: a process-wide POSIX timer sends SIGUSR1 every
// interval_ns for duration_ns; the handler triggers the token from signal
// context with an increasing value. *last is the last value accepted.
int ct_trigger_storm(uintptr_t token, int interrupt, int64_t interval_ns, int64_t duration_ns,
                     ct_trig_result *out, int64_t *last);

// ct_refs_race: n threads each foreign_acquire, post count messages
// {first_id+i, seq} (retrying when full), and foreign_release. accepted[i]
// as for ct_join; codes[i] the first unexpected code, or 0.
void ct_refs_race(uintptr_t token, int n, uint32_t first_id, uint64_t count, uint64_t *accepted, int *codes);

int ct_acquire(uintptr_t token);
int ct_release(uintptr_t token);
int ct_signal(uintptr_t token, int value);

// ct_cost times count calls of one kind on a new pthread and returns the
// mean ns per call: 0 foreign_signal, 1 notifier trigger, 2 the //export
// ctExportNoop, 3 foreign_post of a ct_msg.
double ct_cost(uintptr_t token, int kind, uint64_t count);

// lifecycle.c. ct_post_wait is one foreign_post_wait from this thread.
int ct_post_wait(uintptr_t token, const void *msg, size_t len, int64_t timeout_ns);

// ct_end_blocked starts a thread that blocks with no time limit in
// foreign_call (how CT_BLOCK_CALL: a ct_msg argument, a uint64_t result) or
// foreign_post_wait (CT_BLOCK_POST: a ct_msg), lets it sleep there for
// block_ns, then ends it: pthread_cancel (CT_END_CANCEL) or pthread_exit
// from a SIGUSR2 handler (CT_END_EXIT). Returns 0 when the thread ended
// as told (and *rc is 1: the library call never returned), 1 if it was
// not cancelled but returned (*rc holds the code), -1 if it had not ended
// 10 s later.
enum { CT_BLOCK_POST, CT_BLOCK_CALL };
enum { CT_END_CANCEL, CT_END_EXIT };
int ct_end_blocked(uintptr_t token, int how, int end, int64_t block_ns, int *rc);

// ct_nested_signal_call: a thread calls foreign_call(token, {1, outer});
// after_ns later a SIGUSR2 handler interrupts that thread and calls
// foreign_call(token, {2, inner}) from signal context. Both results and
// codes are returned.
int ct_nested_signal_call(uintptr_t token, uint64_t outer, uint64_t inner, int64_t after_ns, uint64_t *outer_ret,
                          int *outer_rc, uint64_t *inner_ret, int *inner_rc);

// ct_fork_child: see lifecycle.c. 0 means every call in the child failed
// at once with FOREIGN_ECLOSED.
int ct_fork_child(uintptr_t queue, uintptr_t fn, uintptr_t intr, uintptr_t notifier);

#endif
