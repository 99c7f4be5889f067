/* bytes.h: C threads posting into byte queues and calling byte functions. */
#ifndef CTHREADS_BYTES_H
#define CTHREADS_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* The header of every message a byte producer posts; the payload after it
 * is ct_bytes_fill's pattern. */
typedef struct {
	uint32_t producer;
	uint32_t len; /* the whole message's length, header included */
	uint64_t seq;
} ct_bytes_hdr;

/* ct_bytes_len is the length of message seq of producer (at least the
 * header, at most max). */
size_t ct_bytes_len(uint32_t producer, uint64_t seq, size_t min, size_t max);
/* ct_bytes_fill writes the pattern of message seq of producer. */
void ct_bytes_fill(unsigned char *p, size_t n, uint32_t producer, uint64_t seq);

/* How a byte producer posts: */
enum {
	CT_BYTES_POST,  /* foreign_post of one buffer, retried while full */
	CT_BYTES_POSTV, /* foreign_postv of header and payload, retried while full */
	CT_BYTES_WAIT,  /* foreign_postv_wait, no limit */
	CT_BYTES_MIXED  /* by turns */
};

typedef struct ct_bytes ct_bytes;
/* ct_bytes_start runs n threads; thread i posts count messages as
 * producer first_id+i, of lengths in [min, max]. */
ct_bytes *ct_bytes_start(uintptr_t token, int n, uint32_t first_id, uint64_t count, size_t min, size_t max, int how);
/* ct_bytes_join joins them: accepted per thread, and the first bad code. */
int ct_bytes_join(ct_bytes *b, uint64_t *accepted, int *bad);

/* ct_postv posts the parts (bases and lengths) with foreign_postv. */
int ct_postv(uintptr_t token, const void *const *bases, const size_t *lens, int n);
int ct_postv_wait(uintptr_t token, const void *const *bases, const size_t *lens, int n, int64_t timeout_ns);
/* ct_callv calls with foreign_callv of one argument buffer. */
int ct_callv(uintptr_t token, const void *arg, size_t arglen, void *ret, size_t retcap, size_t *retlen,
             int64_t timeout_ns);

/* ct_callv_threads runs n threads, each making count calls with
 * foreign_callv into a function that answers with its argument twice
 * (arguments of 16 to max bytes; every fourth call with too small a
 * buffer). It returns 0 or the first bad code, and the counts. */
int ct_callv_threads(uintptr_t token, int n, uint64_t count, size_t max, int64_t timeout_ns, uint64_t *ok,
                     uint64_t *short_ret);

#endif
