// natssub.c: the C half of the NATS example. See natssub.h.

#define _GNU_SOURCE
#include "natssub.h"

#include "_cgo_export.h" /* natsDeliver, the //export baseline */
#include "foreign.h"
#include "timing.h"

#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ns_sub {
	natsConnection *nc;
	natsSubscription *sub;
	int mode;
	uintptr_t target; // a foreign token (NS_POST) or a cgo.Handle (NS_EXPORT)
	int64_t wait_ns;

	// Written by the delivery thread only; read with atomic loads while it
	// runs.
	ns_stats st;
	timing tm;
};

static void count(uint64_t *c) { __atomic_store_n(c, *c + 1, __ATOMIC_RELAXED); }

static int fail(char *errbuf, size_t errlen, const char *what, natsStatus s) {
	snprintf(errbuf, errlen, "%s: %s", what, natsStatus_GetText(s));
	return -1;
}

// post hands the message to the queue: the header, the subject and the
// payload, gathered by foreign_postv straight from the natsMsg. A full
// queue is not a loss yet: the delivery thread waits for room (up to
// wait_ns) while libnats buffers what arrives behind it. Only a post
// refused after that, or one longer than the queue's maximum, is lost, and
// counted.
static void post(ns_sub *s, const ns_hdr *h, const char *subject, const char *data) {
	const struct foreign_iovec iov[3] = {
		{h, sizeof *h},
		{subject, h->subject_len},
		{data, h->len},
	};
	int rc = foreign_postv(s->target, iov, 3);
	if (rc == FOREIGN_EFULL) {
		count(&s->st.waited);
		rc = foreign_postv_wait(s->target, iov, 3, s->wait_ns);
	}
	if (rc != 0) {
		count(&s->st.lost);
		__atomic_store_n(&s->st.last_code, rc, __ATOMIC_RELAXED);
	}
}

// on_msg runs on the subscription's delivery thread, which libnats starts
// for each asynchronous subscription. The callback owns msg and must
// destroy it, so the message is handed over, whole, before that.
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
	(void)nc;
	(void)sub;
	ns_sub *s = closure;
	const char *subject = natsMsg_GetSubject(msg);
	const char *data = natsMsg_GetData(msg);
	ns_hdr h = {.len = (uint32_t)natsMsg_GetDataLength(msg), .subject_len = (uint32_t)strlen(subject)};

	timing_mark tm;
	timing_start(&s->tm, &tm);
	if (s->mode == NS_POST)
		post(s, &h, subject, data);
	else
		natsDeliver(s->target, &h, (char *)subject, (char *)data); // enters the Go runtime on this thread
	timing_stop(&s->tm, &tm);
	count(&s->st.callbacks);
	natsMsg_Destroy(msg);
}

int ns_sub_new(ns_sub **out, const char *url, const char *subject, int mode, uintptr_t target,
               int64_t wait_ns, uint64_t timings, char *errbuf, size_t errlen) {
	*out = NULL;
	ns_sub *s = calloc(1, sizeof *s);
	if (s == NULL || timing_init(&s->tm, timings, 1) != 0) {
		free(s);
		return fail(errbuf, errlen, "ns_sub_new", NATS_NO_MEMORY);
	}
	s->mode = mode;
	s->target = target;
	s->wait_ns = wait_ns;
	natsStatus st = natsConnection_ConnectTo(&s->nc, url);
	if (st != NATS_OK) {
		ns_sub_free(s);
		return fail(errbuf, errlen, "natsConnection_ConnectTo", st);
	}
	st = natsConnection_Subscribe(&s->sub, s->nc, subject, on_msg, s);
	if (st != NATS_OK) {
		ns_sub_free(s);
		return fail(errbuf, errlen, "natsConnection_Subscribe", st);
	}
	// Negative: no limit. The default (65536 messages) would make libnats
	// drop messages, silently to the sender, while the callback waits.
	st = natsSubscription_SetPendingLimits(s->sub, -1, -1);
	if (st == NATS_OK)
		st = natsConnection_FlushTimeout(s->nc, 10000);
	if (st != NATS_OK) {
		ns_sub_stop(s, 5000);
		ns_sub_free(s);
		return fail(errbuf, errlen, "natsConnection_Subscribe", st);
	}
	*out = s;
	return 0;
}

void ns_sub_stats(ns_sub *s, ns_stats *out) {
	out->callbacks = __atomic_load_n(&s->st.callbacks, __ATOMIC_RELAXED);
	out->waited = __atomic_load_n(&s->st.waited, __ATOMIC_RELAXED);
	out->lost = __atomic_load_n(&s->st.lost, __ATOMIC_RELAXED);
	out->last_code = __atomic_load_n(&s->st.last_code, __ATOMIC_RELAXED);
	out->pad = 0;
	out->dropped = 0;
	if (s->sub != NULL)
		natsSubscription_GetDropped(s->sub, &out->dropped);
	out->slept = __atomic_load_n(&s->tm.slept, __ATOMIC_RELAXED);
	out->preempted = __atomic_load_n(&s->tm.preempted, __ATOMIC_RELAXED);
}

uint64_t ns_sub_timings(ns_sub *s, const uint64_t **ns) {
	*ns = s->tm.ns;
	return timing_kept(&s->tm);
}

int ns_sub_stop(ns_sub *s, int64_t timeout_ms) {
	if (s->sub == NULL)
		return 0;
	// Unsubscribing alone would not wait for a callback in progress; a
	// drain delivers what libnats holds and completes only after the last
	// callback has returned.
	natsStatus st = natsSubscription_Drain(s->sub);
	if (st == NATS_OK)
		st = natsSubscription_WaitForDrainCompletion(s->sub, timeout_ms);
	return st == NATS_OK ? 0 : -1;
}

void ns_sub_free(ns_sub *s) {
	if (s == NULL)
		return;
	natsSubscription_Destroy(s->sub);
	natsConnection_Destroy(s->nc);
	timing_free(&s->tm);
	free(s);
}

struct ns_pub {
	natsConnection *nc;
};

int ns_pub_new(ns_pub **out, const char *url, char *errbuf, size_t errlen) {
	*out = NULL;
	ns_pub *p = calloc(1, sizeof *p);
	if (p == NULL)
		return fail(errbuf, errlen, "ns_pub_new", NATS_NO_MEMORY);
	natsStatus st = natsConnection_ConnectTo(&p->nc, url);
	if (st != NATS_OK) {
		free(p);
		return fail(errbuf, errlen, "natsConnection_ConnectTo", st);
	}
	*out = p;
	return 0;
}

int ns_pub_send(ns_pub *p, const char *subject, const void *data, int len) {
	return (int)natsConnection_Publish(p->nc, subject, data, len);
}

int ns_pub_flush(ns_pub *p, int64_t timeout_ms) {
	return (int)natsConnection_FlushTimeout(p->nc, timeout_ms);
}

void ns_pub_free(ns_pub *p) {
	if (p == NULL)
		return;
	natsConnection_Destroy(p->nc);
	free(p);
}

const char *ns_strerror(int status) { return natsStatus_GetText((natsStatus)status); }
