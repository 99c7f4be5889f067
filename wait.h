/*
 * wait.h: the one seam between the portable code and the operating system's
 * way to sleep on a memory word. Internal.
 *
 * fq_wait32 sleeps while *addr == val, until fq_wake32(addr) or the
 * deadline (CLOCK_MONOTONIC, ns; negative: none). Spurious returns are
 * allowed: callers re-check their condition. A waker changes *addr BEFORE
 * calling fq_wake32, so a waiter that read the old value either sees the
 * change or is woken.
 *
 * Linux uses futex(2) on the word itself. Elsewhere, and on Linux when
 * fq_use_futex is 0 (the tests flip it so the fallback runs here too), a
 * fixed table of mutex + condition variable buckets hashed by address does
 * the same job.
 */
#ifndef FOREIGN_WAIT_H
#define FOREIGN_WAIT_H

#include <stdatomic.h>
#include <stdint.h>

extern int fq_use_futex;

/* Returns 0, or FOREIGN_ETIMEDOUT when the deadline passed. */
int fq_wait32(_Atomic uint32_t *addr, uint32_t val, int64_t deadline_ns);
void fq_wake32(_Atomic uint32_t *addr);
int64_t fq_now_ns(void);
/* fq_deadline turns a relative timeout (negative: none) into a deadline. */
int64_t fq_deadline(int64_t timeout_ns);

#endif
