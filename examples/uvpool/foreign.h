/*
 * foreign.h: the C ABI of github.com/foreigncall/foreign.
 *
 * C code running on any thread (a library's worker thread, a timer thread, a
 * thread created for one event, a signal handler) hands messages to Go through
 * a token that the Go side created. Tokens are plain integers that fit in a
 * `void *` user-data argument; 0 is never a valid token.
 *
 * Thread and signal safety:
 *   foreign_post       async-signal-safe, lock-free, never blocks, no malloc.
 *   foreign_postv      the same.
 *   foreign_signal     async-signal-safe, lock-free, never blocks.
 *   foreign_release    async-signal-safe, lock-free, never blocks.
 *   foreign_acquire    lock-free, never blocks.
 *   foreign_strerror   async-signal-safe (returns a static string).
 *   foreign_post_wait  blocks (while the queue is full); not for signal handlers.
 *   foreign_postv_wait the same.
 *   foreign_call       blocks (until Go returns); not for signal handlers.
 *   foreign_callv      the same.
 *
 * Every function returns 0 on success or one of the negative FOREIGN_E*
 * codes below. The codes are distinct and stable across releases.
 *
 * In a child of fork() that inherited tokens, every function returns
 * FOREIGN_ECLOSED at once (the Go consumers stayed in the parent); nothing
 * the child does reaches the parent.
 *
 * C99. Usable from cgo preambles in other Go packages and from C programs that
 * link a Go c-archive or c-shared build; see the README for how to include it.
 */
#ifndef FOREIGN_H
#define FOREIGN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A handle created by the Go side; pass it to C as user data. */
typedef uintptr_t foreign_token;

/* 2 added byte queues: foreign_postv, foreign_postv_wait, foreign_callv,
 * FOREIGN_EMSGSIZE. Every function of version 1 is unchanged. */
#define FOREIGN_ABI_VERSION 2

#define FOREIGN_EINVAL    (-1) /* token 0, unknown token, NULL message, wrong length */
#define FOREIGN_ECLOSED   (-2) /* the target was closed (or the token is stale) */
#define FOREIGN_EFULL     (-3) /* the queue is full; the message was not accepted */
#define FOREIGN_ETIMEDOUT (-4) /* a blocking call gave up */
#define FOREIGN_EDEADLK   (-5) /* a blocking call would wait on its own thread */
#define FOREIGN_EPANIC    (-6) /* the Go handler panicked */
#define FOREIGN_EMSGSIZE  (-7) /* a message or result longer than the handle's maximum */

/* One part of a message posted with foreign_postv: len bytes at base. */
struct foreign_iovec {
	const void *base;
	size_t len;
};

/* The most parts a gather list may have. */
#define FOREIGN_IOV_MAX 1024

/*
 * foreign_post copies len bytes from msg into the queue named by t and
 * returns at once. For a queue of a Go message type (foreign.Queue) len
 * must equal the type's size; for a byte queue (foreign.ByteQueue) len is
 * the message's length, 0 allowed, up to the queue's maximum (longer:
 * FOREIGN_EMSGSIZE). A message that is accepted (return 0) is delivered to
 * Go exactly once, and messages posted by one thread are delivered in the
 * order that thread posted them. A message that does not fit now gets
 * FOREIGN_EFULL. It never blocks and makes at most one system call (a
 * write to wake a parked consumer, once per burst). errno is preserved.
 */
int foreign_post(foreign_token t, const void *msg, size_t len);

/*
 * foreign_postv is foreign_post of the message made of the iovcnt parts at
 * iov, one after the other (a header and a payload, say), copied straight
 * into the queue: no intermediate copy. The message's length is the sum of
 * the parts' lengths; a part of length 0 may have a NULL base. iovcnt is 0
 * to FOREIGN_IOV_MAX (more: FOREIGN_EINVAL). Async-signal-safe, as
 * foreign_post.
 */
int foreign_postv(foreign_token t, const struct foreign_iovec *iov, int iovcnt);

/*
 * foreign_post_wait is foreign_post that waits while the queue is full, up
 * to timeout_ns nanoseconds (negative: no limit). It returns 0,
 * FOREIGN_ETIMEDOUT, or FOREIGN_ECLOSED if the queue is closed meanwhile
 * (Close wakes every waiter). Waiters are woken when the consumer makes
 * room; none is left asleep while there is room.
 */
int foreign_post_wait(foreign_token t, const void *msg, size_t len, int64_t timeout_ns);

/*
 * foreign_postv_wait is foreign_postv that waits as foreign_post_wait does.
 * On a byte queue a waiting message is not starved by smaller ones that
 * would each fit into the room the consumer makes: the first waiter that
 * finds the queue full reserves the room it needs, posts that do not wait
 * get FOREIGN_EFULL while it would not be left, and waiters take the
 * reservation in turns. (So does foreign_post_wait.)
 */
int foreign_postv_wait(foreign_token t, const struct foreign_iovec *iov, int iovcnt, int64_t timeout_ns);

/*
 * foreign_call calls the Go function behind t (a foreign.Func) with the
 * arglen bytes at arg and waits for its result, which is copied into the
 * retlen bytes at ret. arglen and retlen must equal the sizes of the Go
 * argument and result types (0 for an empty struct; arg and ret may then be
 * NULL). It returns:
 *   0                  ret holds the result;
 *   FOREIGN_ETIMEDOUT  timeout_ns (negative: no limit) passed first; the
 *                      call may still run later, and its result is dropped
 *                      (never written into ret) and counted;
 *   FOREIGN_ECLOSED    the function was closed before the call was accepted;
 *   FOREIGN_EDEADLK    the caller is the thread running the Go function
 *                      (it called into C, which called back): it would wait
 *                      for itself, so it fails at once instead;
 *   FOREIGN_EPANIC     the Go function panicked; ret is untouched;
 *   FOREIGN_EINVAL     bad token or sizes, or a function of byte strings
 *                      (foreign.BytesFunc: call it with foreign_callv).
 * A call accepted before Close still runs and returns its result.
 */
int foreign_call(foreign_token t, const void *arg, size_t arglen, void *ret, size_t retlen,
                 int64_t timeout_ns);

/*
 * foreign_callv calls the Go function behind t with the argument made of
 * the argcnt parts at arg (as foreign_postv), and receives a result of any
 * length up to retcap bytes into ret; *retlen (if not NULL) is set to the
 * result's length. It returns what foreign_call returns, and:
 *   FOREIGN_EMSGSIZE   the argument is longer than the function's maximum,
 *                      or the result longer than retcap: then *retlen is
 *                      the result's length (a retry with that much room
 *                      will do), and ret is untouched.
 * For a function of fixed types (foreign.Func) the argument's length must
 * be the type's size and retcap at least the result's. A caller that gives
 * up (FOREIGN_ETIMEDOUT) never has ret written after it returns; *retlen
 * is set only on 0 and FOREIGN_EMSGSIZE.
 */
int foreign_callv(foreign_token t, const struct foreign_iovec *arg, int argcnt, void *ret, size_t retcap,
                  size_t *retlen, int64_t timeout_ns);

/*
 * foreign_signal sets the interrupt t (a foreign.Interrupt) pending with
 * value; a later signal before delivery overwrites the value (latest wins).
 * Only the not-pending -> pending transition wakes Go. Async-signal-safe.
 * A notifier (foreign.Notifier) is triggered with foreign_post(t, NULL, 0).
 */
int foreign_signal(foreign_token t, int value);

/*
 * foreign_acquire and foreign_release count C users of a handle (a queue,
 * a function, a notifier or an interrupt). The Go side holds one reference
 * of its own until it calls Release. When the last reference is released the
 * handle closes, exactly as by Close: what was accepted is delivered, later
 * posts get FOREIGN_ECLOSED, and the Go finalizer runs once. acquire after
 * that returns FOREIGN_ECLOSED. foreign_release is async-signal-safe;
 * foreign_acquire is lock-free but meant for ordinary threads.
 */
int foreign_acquire(foreign_token t);
int foreign_release(foreign_token t);

/* foreign_strerror describes a return code; never NULL. */
const char *foreign_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* FOREIGN_H */
