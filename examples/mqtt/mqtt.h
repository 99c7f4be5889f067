/*
 * mqtt.h: a libmosquitto subscriber whose message callback, running on the
 * thread mosquitto_loop_start creates, hands each message to Go; and a
 * publisher for the example and its test. Go side: binding.go.
 */
#ifndef EXAMPLE_MQTT_H
#define EXAMPLE_MQTT_H

#include <stddef.h>
#include <stdint.h>

#define MQ_TOPIC_MAX 65535 /* MQTT's own limit: a topic's length is a 16-bit field */

/* mq_hdr.flags */
#define MQ_RETAINED 1

/*
 * The fixed part of a message. The callback posts it, the topic and the
 * payload as one queue message, in that order, with foreign_postv: straight
 * from libmosquitto's buffer (freed when the callback returns) into the
 * queue, with no copy in between, whatever the payload's length. header in
 * binding.go mirrors this layout.
 */
typedef struct {
	uint32_t len;       /* payload bytes, after the topic */
	uint16_t topic_len; /* topic bytes, right after this header */
	uint8_t qos;
	uint8_t flags; /* MQ_RETAINED */
	int32_t mid;   /* the MQTT packet id (0 at QoS 0) */
	int32_t pad;
} mq_hdr;

/* How the callback hands a message to Go. */
enum {
	MQ_POST = 1,   /* foreign_postv into the byte queue whose token is the target */
	MQ_EXPORT = 2, /* call the exported Go function mqttDeliver(target, &hdr, topic, payload) */
};

/* What a subscriber's callback did; read with mq_sub_stats. */
typedef struct {
	uint64_t callbacks; /* messages the library delivered to the callback */
	uint64_t waited;    /* posts that found the queue full and waited for room */
	uint64_t lost;      /* posts refused even after waiting, or too long: counted, not delivered */
	int32_t last_code;  /* the last refusal's FOREIGN_E* code */
	int32_t pad;
	uint64_t slept;     /* hand-offs during which the thread slept (timing.h) */
	uint64_t preempted; /* hand-offs during which it was preempted */
} mq_stats;

typedef struct mq_sub mq_sub;

/*
 * mq_sub_new connects to host:port as client id, subscribes to topic at qos
 * (again after every reconnect) and starts the library's network thread.
 * wait_ns bounds how long the callback waits for room in a full queue
 * (MQ_POST); it blocks the network thread meanwhile, which is the
 * back-pressure a subscriber that must not lose messages wants. A message
 * longer than the queue's maximum is refused (FOREIGN_EMSGSIZE) and counted
 * as lost. timings is
 * how many callback durations to keep (timing.h). It returns 0 and the
 * subscriber in *out, or -1 and a message in errbuf.
 */
int mq_sub_new(mq_sub **out, const char *host, int port, const char *id, const char *topic, int qos,
               int mode, uintptr_t target, int64_t wait_ns, uint64_t timings, char *errbuf,
               size_t errlen);

/* mq_sub_wait_subscribed waits until the broker acknowledged the
 * subscription: 0, MQ_ETIMEDOUT, or MQ_EREFUSED (the broker refused it). */
int mq_sub_wait_subscribed(mq_sub *s, int64_t timeout_ns);
#define MQ_ETIMEDOUT (-1000)
#define MQ_EREFUSED (-1001)

void mq_sub_stats(mq_sub *s, mq_stats *out);

/* mq_sub_timings points *ns at the kept callback durations and returns how
 * many there are. Valid until mq_sub_free; call it after mq_sub_stop. */
uint64_t mq_sub_timings(mq_sub *s, const uint64_t **ns);

/* mq_sub_stop disconnects and joins the network thread: when it returns,
 * the callback will not run again. */
void mq_sub_stop(mq_sub *s);
void mq_sub_free(mq_sub *s);

/* A publisher: the test's and the example's message source. */
typedef struct mq_pub mq_pub;

int mq_pub_new(mq_pub **out, const char *host, int port, const char *id, char *errbuf, size_t errlen);
/* mq_pub_send queues a message (libmosquitto copies the payload). */
int mq_pub_send(mq_pub *p, const char *topic, const void *payload, int len, int qos);
/* mq_pub_wait waits until n messages were acknowledged (QoS 1 and 2) or
 * written (QoS 0): 0 or MQ_ETIMEDOUT. */
int mq_pub_wait(mq_pub *p, uint64_t n, int64_t timeout_ns);
void mq_pub_free(mq_pub *p);

const char *mq_strerror(int code);

#endif
