// mqtt.c: the C half of the MQTT example. See mqtt.h.

#define _GNU_SOURCE
#include "mqtt.h"

#include "_cgo_export.h" /* mqttDeliver, the //export baseline */
#include "foreign.h"
#include "timing.h"

#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// mosquitto_lib_init is not thread-safe and must run once before any client.
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static void lib_init(void) { mosquitto_lib_init(); }

// waiter: a mutex and a condition variable on CLOCK_MONOTONIC, so that a
// wait's timeout does not move with the wall clock.
typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
} waiter;

static void waiter_init(waiter *w) {
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &a);
	pthread_condattr_destroy(&a);
	pthread_mutex_init(&w->mu, NULL);
}

static void waiter_destroy(waiter *w) {
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

static struct timespec deadline_after(int64_t ns) {
	uint64_t t = timing_now() + (uint64_t)ns;
	return (struct timespec){.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
}

static int fail(char *errbuf, size_t errlen, const char *what, int rc) {
	const char *why = rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
	snprintf(errbuf, errlen, "%s: %s", what, why);
	return -1;
}

// ---- subscriber --------------------------------------------------------

struct mq_sub {
	struct mosquitto *m;
	char *topic;
	int qos;
	int mode;
	uintptr_t target; // a foreign token (MQ_POST) or a cgo.Handle (MQ_EXPORT)
	int64_t wait_ns;
	bool running; // the network thread is started

	waiter w;
	int subscribed; // under w.mu: 0 not yet, 1 granted, -1 refused

	// Written by the network thread only; read with atomic loads while it
	// runs.
	mq_stats st;
	timing tm;
};

static void count(uint64_t *c) { __atomic_store_n(c, *c + 1, __ATOMIC_RELAXED); }

// on_connect subscribes on every (re)connection: with a clean session the
// broker forgets subscriptions when the connection drops.
static void on_connect(struct mosquitto *m, void *obj, int rc) {
	mq_sub *s = obj;
	if (rc == 0)
		mosquitto_subscribe(m, NULL, s->topic, s->qos);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted) {
	(void)m;
	(void)mid;
	mq_sub *s = obj;
	pthread_mutex_lock(&s->w.mu);
	s->subscribed = n > 0 && granted[0] <= 2 ? 1 : -1; // 0x80: refused
	pthread_cond_broadcast(&s->w.cv);
	pthread_mutex_unlock(&s->w.mu);
}

// post hands the message to the queue: the header, the topic and the
// payload, gathered by foreign_postv straight from libmosquitto's buffer.
// A full queue is not a loss yet: the network thread waits for room (up to
// wait_ns), which stops it reading the socket, so the broker holds the
// backlog. Only a post refused after that, or one longer than the queue's
// maximum, is lost, and it is counted.
static void post(mq_sub *s, const mq_hdr *h, const char *topic, const void *payload) {
	const struct foreign_iovec iov[3] = {
		{h, sizeof *h},
		{topic, h->topic_len},
		{payload, h->len},
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

// on_message runs on the network thread. libmosquitto frees msg when it
// returns, so it is handed over before that, whole: the queue copies it.
static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
	(void)m;
	mq_sub *s = obj;
	// mq_hdr has no padding and the fields not named are zeroed, so no
	// stack bytes travel to Go. The topic's length fits in 16 bits: MQTT
	// encodes it so.
	mq_hdr h = {
		.len = (uint32_t)msg->payloadlen,
		.topic_len = (uint16_t)strlen(msg->topic),
		.qos = (uint8_t)msg->qos,
		.flags = msg->retain ? MQ_RETAINED : 0,
		.mid = msg->mid,
	};

	timing_mark tm;
	timing_start(&s->tm, &tm);
	if (s->mode == MQ_POST)
		post(s, &h, msg->topic, msg->payload);
	else
		mqttDeliver(s->target, &h, msg->topic, msg->payload); // enters the Go runtime on this thread
	timing_stop(&s->tm, &tm);
	count(&s->st.callbacks);
}

int mq_sub_new(mq_sub **out, const char *host, int port, const char *id, const char *topic, int qos,
               int mode, uintptr_t target, int64_t wait_ns, uint64_t timings, char *errbuf,
               size_t errlen) {
	pthread_once(&lib_once, lib_init);
	*out = NULL;
	mq_sub *s = calloc(1, sizeof *s);
	if (s == NULL || (s->topic = strdup(topic)) == NULL || timing_init(&s->tm, timings, 1) != 0) {
		if (s != NULL)
			free(s->topic);
		free(s);
		return fail(errbuf, errlen, "mq_sub_new", MOSQ_ERR_NOMEM);
	}
	s->qos = qos;
	s->mode = mode;
	s->target = target;
	s->wait_ns = wait_ns;
	waiter_init(&s->w);
	s->m = mosquitto_new(id, true, s);
	if (s->m == NULL) {
		int e = errno;
		mq_sub_free(s);
		errno = e;
		return fail(errbuf, errlen, "mosquitto_new", MOSQ_ERR_ERRNO);
	}
	mosquitto_connect_callback_set(s->m, on_connect);
	mosquitto_subscribe_callback_set(s->m, on_subscribe);
	mosquitto_message_callback_set(s->m, on_message);
	int rc = mosquitto_connect(s->m, host, port, 30);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_start(s->m);
	if (rc != MOSQ_ERR_SUCCESS) {
		int e = errno;
		mq_sub_free(s);
		errno = e;
		return fail(errbuf, errlen, "mosquitto_connect", rc);
	}
	s->running = true;
	*out = s;
	return 0;
}

int mq_sub_wait_subscribed(mq_sub *s, int64_t timeout_ns) {
	struct timespec dl = deadline_after(timeout_ns);
	int rc = 0;
	pthread_mutex_lock(&s->w.mu);
	while (s->subscribed == 0 && rc == 0)
		rc = pthread_cond_timedwait(&s->w.cv, &s->w.mu, &dl);
	int r = s->subscribed > 0 ? 0 : s->subscribed < 0 ? MQ_EREFUSED : MQ_ETIMEDOUT;
	pthread_mutex_unlock(&s->w.mu);
	return r;
}

void mq_sub_stats(mq_sub *s, mq_stats *out) {
	out->callbacks = __atomic_load_n(&s->st.callbacks, __ATOMIC_RELAXED);
	out->waited = __atomic_load_n(&s->st.waited, __ATOMIC_RELAXED);
	out->lost = __atomic_load_n(&s->st.lost, __ATOMIC_RELAXED);
	out->last_code = __atomic_load_n(&s->st.last_code, __ATOMIC_RELAXED);
	out->pad = 0;
	out->slept = __atomic_load_n(&s->tm.slept, __ATOMIC_RELAXED);
	out->preempted = __atomic_load_n(&s->tm.preempted, __ATOMIC_RELAXED);
}

uint64_t mq_sub_timings(mq_sub *s, const uint64_t **ns) {
	*ns = s->tm.ns;
	return timing_kept(&s->tm);
}

void mq_sub_stop(mq_sub *s) {
	if (!s->running)
		return;
	// A disconnect makes the network thread leave its loop; joining it
	// (force=false: no pthread_cancel, which could strike inside a post)
	// means no callback runs after this returns.
	mosquitto_disconnect(s->m);
	mosquitto_loop_stop(s->m, false);
	s->running = false;
}

void mq_sub_free(mq_sub *s) {
	if (s == NULL)
		return;
	mq_sub_stop(s);
	if (s->m != NULL)
		mosquitto_destroy(s->m);
	waiter_destroy(&s->w);
	timing_free(&s->tm);
	free(s->topic);
	free(s);
}

// ---- publisher ---------------------------------------------------------

struct mq_pub {
	struct mosquitto *m;
	waiter w;
	uint64_t done; // under w.mu: messages acknowledged
	bool running;
};

static void on_publish(struct mosquitto *m, void *obj, int mid) {
	(void)m;
	(void)mid;
	mq_pub *p = obj;
	pthread_mutex_lock(&p->w.mu);
	p->done++;
	pthread_cond_broadcast(&p->w.cv);
	pthread_mutex_unlock(&p->w.mu);
}

int mq_pub_new(mq_pub **out, const char *host, int port, const char *id, char *errbuf, size_t errlen) {
	pthread_once(&lib_once, lib_init);
	*out = NULL;
	mq_pub *p = calloc(1, sizeof *p);
	if (p == NULL)
		return fail(errbuf, errlen, "mq_pub_new", MOSQ_ERR_NOMEM);
	waiter_init(&p->w);
	p->m = mosquitto_new(id, true, p);
	if (p->m == NULL) {
		int e = errno;
		mq_pub_free(p);
		errno = e;
		return fail(errbuf, errlen, "mosquitto_new", MOSQ_ERR_ERRNO);
	}
	mosquitto_publish_callback_set(p->m, on_publish);
	int rc = mosquitto_connect(p->m, host, port, 30);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_start(p->m);
	if (rc != MOSQ_ERR_SUCCESS) {
		int e = errno;
		mq_pub_free(p);
		errno = e;
		return fail(errbuf, errlen, "mosquitto_connect", rc);
	}
	p->running = true;
	*out = p;
	return 0;
}

int mq_pub_send(mq_pub *p, const char *topic, const void *payload, int len, int qos) {
	return mosquitto_publish(p->m, NULL, topic, len, payload, qos, false);
}

int mq_pub_wait(mq_pub *p, uint64_t n, int64_t timeout_ns) {
	struct timespec dl = deadline_after(timeout_ns);
	int rc = 0;
	pthread_mutex_lock(&p->w.mu);
	while (p->done < n && rc == 0)
		rc = pthread_cond_timedwait(&p->w.cv, &p->w.mu, &dl);
	int r = p->done >= n ? 0 : MQ_ETIMEDOUT;
	pthread_mutex_unlock(&p->w.mu);
	return r;
}

void mq_pub_free(mq_pub *p) {
	if (p == NULL)
		return;
	if (p->running) {
		mosquitto_disconnect(p->m);
		mosquitto_loop_stop(p->m, false);
	}
	if (p->m != NULL)
		mosquitto_destroy(p->m);
	waiter_destroy(&p->w);
	free(p);
}

const char *mq_strerror(int code) {
	switch (code) {
	case MQ_ETIMEDOUT:
		return "timed out";
	case MQ_EREFUSED:
		return "subscription refused by the broker";
	}
	return mosquitto_strerror(code);
}
