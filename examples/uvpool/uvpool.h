/*
 * uvpool.h: a batch of libuv work requests (uv_queue_work) whose work
 * callbacks, running on libuv's thread pool, ask Go for a decision
 * (foreign_call) and hand their result to Go (foreign_post_wait). Go side:
 * binding.go.
 */
#ifndef EXAMPLE_UVPOOL_H
#define EXAMPLE_UVPOOL_H

#include <stddef.h>
#include <stdint.h>

#define UVP_MAX_SIZE 1024 /* most bytes one work item produces */

/* What a work item asks Go (Arg in binding.go). */
typedef struct {
	uint32_t item;
	uint32_t pad;
} uvp_arg;

/* Go's answer (Decision): what the item is to produce. */
typedef struct {
	uint64_t seed;
	uint32_t size; /* bytes, at most UVP_MAX_SIZE */
	uint32_t pad;
} uvp_decision;

/* What a work item hands back (Result). */
typedef struct {
	uint32_t item;
	int32_t tid;   /* the pool thread that did the work */
	uint32_t size; /* bytes produced */
	uint32_t crc;  /* their CRC-32 (IEEE) */
	uint64_t seed; /* the decision the work used */
} uvp_result;

/* How a work callback reaches Go. */
enum {
	UVP_FOREIGN = 1, /* foreign_call for the decision, foreign_post_wait for the result */
	UVP_EXPORT = 2,  /* the exported uvpDecide and uvpResult */
};

typedef struct {
	int mode;
	int pad;
	uintptr_t decide;   /* UVP_FOREIGN: a foreign.Func token; UVP_EXPORT: a cgo.Handle */
	uintptr_t results;  /* UVP_FOREIGN: a foreign.Queue token; UVP_EXPORT: a cgo.Handle */
	uint32_t items;     /* work requests to queue */
	uint32_t pad2;
	int64_t timeout_ns; /* bounds each foreign_call and each wait for room */
	uint64_t timings;   /* durations to keep, per kind of hand-off */
} uvp_config;

typedef struct {
	uint64_t done;        /* work requests completed (after_work ran) */
	uint64_t call_failed; /* decisions that failed: no result was produced */
	uint64_t waited;      /* result posts that found the queue full and waited */
	uint64_t lost;        /* result posts refused even after waiting */
	int32_t last_code;    /* the last failure's FOREIGN_E* code */
	int32_t pad;
	uint64_t call_slept, call_preempted; /* see timing.h */
	uint64_t post_slept, post_preempted;
} uvp_stats;

typedef struct uvp_job uvp_job;

/* uvp_new prepares a job; NULL if out of memory. */
uvp_job *uvp_new(const uvp_config *cfg);

/* uvp_run queues every work request on a loop of its own and runs the loop
 * on the calling thread until all have completed. 0, or a negative libuv
 * error code. */
int uvp_run(uvp_job *j);

void uvp_stats_get(uvp_job *j, uvp_stats *out);

/* uvp_timings points *ns at the kept durations of the decisions (which=0)
 * or of the result hand-offs (which=1), and returns how many there are.
 * Valid until uvp_free; call it after uvp_run returned. */
uint64_t uvp_timings(uvp_job *j, int which, const uint64_t **ns);

void uvp_free(uvp_job *j);

/* uvp_strerror describes a libuv error code. */
const char *uvp_strerror(int code);

#endif
