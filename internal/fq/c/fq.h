/*
 * fq.h: the functions of the library's C, internal to it. The C is built
 * as one translation unit (fq.c), so each of these is static: a program
 * that links the library sees only the foreign_* functions of foreign.h,
 * and nothing here can collide with its own symbols. The protocol is in
 * block.h; read it first.
 */
#ifndef FOREIGN_FQ_H
#define FOREIGN_FQ_H

#include "block.h"

/* Internal functions: static, and not all used by every build (the C
 * sanitizer tests use some the Go side does not, and the other way round). */
#define FQ_FN static __attribute__((unused))
/* The C ABI of foreign.h: the only symbols the library exports. */
#define FOREIGN_EXPORT __attribute__((visibility("default")))

/* table.c: the handle table and every handle's life. Called from Go (never
 * on a hot path; may lock and allocate), but fq_lookup, fq_set_closed. */
FQ_FN fq_ctl *fq_lookup(uintptr_t token); /* NULL if the token's block does not exist */
FQ_FN int fq_open(const fq_open_args *a, uintptr_t *token, fq_ctl **ctl); /* 0 or -errno */
FQ_FN void *fq_cells(fq_ctl *c);          /* the ring's first cell */
/* fq_set_closed sets closed in the tail (and the sig word) if the block is
 * still in generation gen; async-signal-safe. Returns 0 and the final
 * position, or the stale-token code. */
FQ_FN int fq_set_closed(fq_ctl *c, uint64_t gen, uint64_t *final);
/* fq_close_token closes the handle t names as Close does, if t is still
 * its generation; returns 0 (also if it was closed already) or the
 * stale-token code, and the final position. */
FQ_FN int fq_close_token(foreign_token t, uint64_t *final);
FQ_FN void fq_free(uintptr_t token); /* after close and drain: frees the ring, recycles the block */

/* post.c: claiming and publishing, from C: fq_post never waits
 * (async-signal-safe); fq_post_wait waits for room until deadline
 * (negative: none). */
FQ_FN int fq_msg_init(fq_msg *m, int mode, uint64_t hdr, const struct foreign_iovec *iov, int iovcnt);
FQ_FN int fq_post(foreign_token t, const fq_msg *m);
FQ_FN int fq_post_wait(foreign_token t, const fq_msg *m, int64_t deadline);
FQ_FN int fq_post1(foreign_token t, int mode, uint64_t hdr, const void *msg, size_t len); /* fq_post of one buffer */
FQ_FN void fq_space(fq_ctl *c); /* the consumer made room: wake waiters */

/* bytes.c: a byte ring's publish (post.c calls it for byte rings) and its
 * reservation: fq_reserve returns the reservation taken, or
 * 0 if another waiter holds it (or the ring has cells); fq_unreserve gives
 * it back and wakes the waiters. */
FQ_FN uint64_t fq_reserved_for_others(fq_ctl *c, uint64_t tgen, int holder); /* the room a reservation keeps */
FQ_FN void fq_publish_bytes(fq_ctl *c, uint64_t gen, const fq_claim *cl, const fq_msg *m);
FQ_FN uint64_t fq_reserve(fq_ctl *c, uint64_t tgen, uint64_t len);
FQ_FN void fq_unreserve(fq_ctl *c, uint64_t reserved);

/* wake.c: waking or scheduling a handle's consumer. */
FQ_FN int fq_wake(fq_ctl *c);     /* the producer-side wake protocol */
FQ_FN void fq_notify(fq_ctl *c, uint64_t gen); /* wake or schedule the consumer of generation gen after new work */
FQ_FN int fq_kick(foreign_token t); /* fq_notify, if t is still current */

/* signal.c: notifier and interrupt triggers. */
FQ_FN int fq_trigger(foreign_token t, int kind, int value);
FQ_FN int fq_drain_sig_fd(fq_ctl *c); /* empties sig_fd */

/* refs.c: the Go side's reference (see "References"). */
FQ_FN int fq_release_go(foreign_token t);

/* call.c: completing a call; 1 if the caller had gone. */
FQ_FN int fq_complete(uint64_t hdr, int rc, const void *ret, size_t len);
FQ_FN void fq_skip_call_gens(uint64_t n); /* a test hook: see call.c */

/* serve.c (see "Serving and self-deadlock"). server is the token of what
 * the calling thread now serves (0: nothing); enter returns the previous
 * value for leave to restore. */
FQ_FN uint64_t fq_serve_enter(uint64_t server);
FQ_FN void fq_serve_leave(uint64_t old);
FQ_FN int fq_is_serving(uint64_t server); /* this thread serves server, at any depth */
FQ_FN int fq_serving_any(void);          /* this thread runs a handler of some handle */
/* fq_self_call decides a call into t from this thread: 0 not served here
 * (an ordinary call), 1 a nested call that is allowed (nested was raised;
 * fq_self_call_end lowers it), or FOREIGN_EDEADLK. */
FQ_FN int fq_self_call(foreign_token t, fq_ctl *c);
FQ_FN void fq_self_call_end(fq_ctl *c);
FQ_FN int fq_served_here(foreign_token t, fq_ctl *c); /* 1 if this thread serves t's consumer */

/* sys.c: the one seam with the operating system. */
FQ_FN int fq_open_wake(int kind, int64_t *wfd, int64_t *rfd); /* an eventfd, or a pipe; 0 or -errno */
FQ_FN void fq_close_pair(int64_t r, int64_t w);
FQ_FN void fq_write_wake(int64_t fd, int eventfd); /* async-signal-safe; errno kept */
/* fq_wait32 sleeps while *addr == val, until fq_wake32(addr) or the
 * deadline (CLOCK_MONOTONIC, ns; negative: none). Spurious returns are
 * allowed: callers re-check their condition. A waker changes *addr BEFORE
 * calling fq_wake32, so a waiter that read the old value either sees the
 * change or is woken. Returns 0, or FOREIGN_ETIMEDOUT. */
FQ_FN int fq_wait32(_Atomic uint32_t *addr, uint32_t val, int64_t deadline_ns);
FQ_FN void fq_wake32(_Atomic uint32_t *addr);
FQ_FN int64_t fq_now_ns(void);
FQ_FN int64_t fq_deadline(int64_t timeout_ns); /* a relative timeout (negative: none) as a deadline */
/* fq_set_futex switches the waits between futex(2) and the portable
 * condition-variable fallback (the tests run both on Linux). */
FQ_FN int fq_set_futex(int on);
FQ_FN int fq_using_futex(void);
FQ_FN void fq_relax(void); /* a pause in a spin loop */
/* Parking on the futex (block.h, "Park and wake"); Linux only. */
FQ_FN int fq_futex_park(void); /* 1 where a consumer can park on the futex */
FQ_FN int fq_park_sleep(_Atomic uint32_t *park, int64_t timeout_ns); /* while *park == FQ_PARK_FUTEX; 0 or -errno */
FQ_FN void fq_park_wake(_Atomic uint32_t *park); /* async-signal-safe; errno kept */
FQ_FN int fq_sleep_parked(fq_ctl *c, int64_t timeout_ns); /* the consumer: fq_park_sleep on its park word */
FQ_FN void fq_refuse_futex(int on); /* test hook: fq_park_sleep fails with ENOSYS */

/* fork.c: a child of fork() (see "Fork"). fq_watch_fork registers the
 * handlers, once; fq_forked is 1 in a child. */
FQ_FN void fq_watch_fork(void);
FQ_FN int fq_forked(void);

/* layout.c: every field of fq_ctl, for the Go mirror's check. */
typedef struct {
	const char *name;
	size_t offset, size;
} fq_field;
FQ_FN const fq_field *fq_layout(size_t *n);

#endif /* FOREIGN_FQ_H */
