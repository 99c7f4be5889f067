/*
 * natssub.h: a NATS subscriber (the NATS C client, libnats) whose
 * asynchronous subscription callback, running on the subscription's
 * delivery thread, hands each message to Go; and a publisher for the
 * example and its test. Go side: binding.go.
 */
#ifndef EXAMPLE_NATSSUB_H
#define EXAMPLE_NATSSUB_H

#include <stddef.h>
#include <stdint.h>

/*
 * The fixed part of a message. The callback posts it, the subject and the
 * payload as one queue message, in that order, with foreign_postv: straight
 * from the natsMsg (destroyed before the callback returns) into the queue,
 * with no copy in between, whatever the payload's length. header in
 * binding.go mirrors this layout.
 */
typedef struct {
	uint32_t len;         /* payload bytes, after the subject */
	uint32_t subject_len; /* subject bytes, right after this header */
} ns_hdr;

/* How the callback hands a message to Go. */
enum {
	NS_POST = 1,   /* foreign_postv into the byte queue whose token is the target */
	NS_EXPORT = 2, /* call the exported Go function natsDeliver(target, &hdr, subject, data) */
};

typedef struct {
	uint64_t callbacks; /* messages the library delivered to the callback */
	uint64_t waited;    /* posts that found the queue full and waited for room */
	uint64_t lost;      /* posts refused even after waiting, or too long: counted, not delivered */
	int64_t dropped;    /* messages libnats itself dropped (slow consumer) */
	int32_t last_code;  /* the last refusal's FOREIGN_E* code */
	int32_t pad;
	uint64_t slept;     /* hand-offs during which the thread slept (timing.h) */
	uint64_t preempted; /* hand-offs during which it was preempted */
} ns_stats;

typedef struct ns_sub ns_sub;

/*
 * ns_sub_new connects to url, subscribes to subject and waits until the
 * server has the subscription (a flush), so that what is published after
 * it returns is delivered. The library's pending-message limit is lifted:
 * when Go falls behind, the delivery thread waits for room (up to wait_ns)
 * and libnats buffers behind it, rather than dropping. A message longer
 * than the queue's maximum is refused (FOREIGN_EMSGSIZE) and counted as
 * lost. It returns 0 and the
 * subscriber in *out, or -1 and a message in errbuf.
 */
int ns_sub_new(ns_sub **out, const char *url, const char *subject, int mode, uintptr_t target,
               int64_t wait_ns, uint64_t timings, char *errbuf, size_t errlen);

void ns_sub_stats(ns_sub *s, ns_stats *out);
uint64_t ns_sub_timings(ns_sub *s, const uint64_t **ns);

/* ns_sub_stop drains the subscription: the messages already received are
 * delivered, then the callback is not called again. 0, or -1 if the drain
 * did not complete within timeout_ms (the callback may then still run). */
int ns_sub_stop(ns_sub *s, int64_t timeout_ms);
void ns_sub_free(ns_sub *s);

typedef struct ns_pub ns_pub;

int ns_pub_new(ns_pub **out, const char *url, char *errbuf, size_t errlen);
/* ns_pub_send buffers a message (libnats copies it); 0 or a natsStatus. */
int ns_pub_send(ns_pub *p, const char *subject, const void *data, int len);
/* ns_pub_flush waits until the server has everything sent so far. */
int ns_pub_flush(ns_pub *p, int64_t timeout_ms);
void ns_pub_free(ns_pub *p);

const char *ns_strerror(int status);

#endif
