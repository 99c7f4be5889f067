// uvpool.c: the C half of the libuv example. See uvpool.h.

#define _GNU_SOURCE
#include "uvpool.h"

#include "_cgo_export.h" /* uvpDecide and uvpResult, the //export baseline */
#include "foreign.h"
#include "timing.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct {
	uv_work_t req;
	uvp_job *job;
	uint32_t id;
} uvp_item;

struct uvp_job {
	uvp_config cfg;
	uvp_item *items;
	// Counters the pool threads share: atomic.
	uint64_t call_failed, waited, lost;
	int32_t last_code;
	uint64_t done; // the loop thread's only
	timing call_tm, post_tm;
};

// ---- the work itself: bytes from a seed, and their CRC-32 ----------------

// fill makes n bytes from seed: the xorshift64* sequence kit.Fill makes in
// Go, so that Go can check the checksum without being sent the bytes.
static void fill(uint8_t *b, uint32_t n, uint64_t seed) {
	uint64_t x = seed * 0x9E3779B97F4A7C15ull | 1;
	for (uint32_t i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		b[i] = (uint8_t)((x * 0x2545F4914F6CDD1Dull) >> 56);
	}
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

// crc32 is CRC-32 (IEEE), Go's crc32.ChecksumIEEE.
static uint32_t crc32(const uint8_t *b, uint32_t n) {
	uint32_t c = 0xFFFFFFFFu;
	for (uint32_t i = 0; i < n; i++)
		c = crc_table[(c ^ b[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

// ---- the work callback, on a pool thread -------------------------------

static void fail(uvp_job *j, uint64_t *counter, int code) {
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&j->last_code, code, __ATOMIC_RELAXED);
}

// decide asks Go what this item is to produce. foreign_call blocks the pool
// thread until Go answers, as a synchronous callback into Go would, but the
// Go function runs on Go's side, and the wait is bounded.
static int decide(uvp_job *j, uint32_t id, uvp_decision *d) {
	uvp_arg a = {.item = id};
	timing_mark m;
	timing_start(&j->call_tm, &m);
	int rc;
	if (j->cfg.mode == UVP_FOREIGN) {
		rc = foreign_call(j->cfg.decide, &a, sizeof a, d, sizeof *d, j->cfg.timeout_ns);
	} else {
		uvpDecide(j->cfg.decide, &a, d); // enters the Go runtime on this thread
		rc = 0;
	}
	timing_stop(&j->call_tm, &m);
	return rc;
}

// deliver hands the result to Go. A pool thread may block, so a full queue
// is waited out (bounded by timeout_ns) rather than dropped.
static void deliver(uvp_job *j, const uvp_result *r) {
	timing_mark m;
	timing_start(&j->post_tm, &m);
	int rc = 0;
	if (j->cfg.mode == UVP_FOREIGN) {
		rc = foreign_post(j->cfg.results, r, sizeof *r);
		if (rc == FOREIGN_EFULL) {
			__atomic_fetch_add(&j->waited, 1, __ATOMIC_RELAXED);
			rc = foreign_post_wait(j->cfg.results, r, sizeof *r, j->cfg.timeout_ns);
		}
	} else {
		uvpResult(j->cfg.results, (uvp_result *)r); // enters the Go runtime
	}
	timing_stop(&j->post_tm, &m);
	if (rc != 0)
		fail(j, &j->lost, rc);
}

static void work(uv_work_t *req) {
	uvp_item *it = req->data;
	uvp_job *j = it->job;
	uvp_decision d;
	int rc = decide(j, it->id, &d);
	if (rc != 0) {
		fail(j, &j->call_failed, rc);
		return;
	}
	if (d.size > UVP_MAX_SIZE)
		d.size = UVP_MAX_SIZE;
	uint8_t buf[UVP_MAX_SIZE];
	fill(buf, d.size, d.seed);
	uvp_result r = {
	    .item = it->id, .tid = (int32_t)gettid(), .size = d.size, .crc = crc32(buf, d.size), .seed = d.seed};
	deliver(j, &r);
}

// after_work runs on the loop thread, which is the thread in uvp_run.
static void after_work(uv_work_t *req, int status) {
	(void)status;
	uvp_item *it = req->data;
	it->job->done++;
}

// ---- the job -------------------------------------------------------------

uvp_job *uvp_new(const uvp_config *cfg) {
	pthread_once(&crc_once, crc_init);
	uvp_job *j = calloc(1, sizeof *j);
	if (j == NULL)
		return NULL;
	j->cfg = *cfg;
	j->items = calloc(cfg->items ? cfg->items : 1, sizeof *j->items);
	if (j->items == NULL || timing_init(&j->call_tm, cfg->timings, 1) != 0 ||
	    timing_init(&j->post_tm, cfg->timings, 1) != 0) {
		uvp_free(j);
		return NULL;
	}
	return j;
}

int uvp_run(uvp_job *j) {
	uv_loop_t loop;
	int rc = uv_loop_init(&loop);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < j->cfg.items && rc == 0; i++) {
		uvp_item *it = &j->items[i];
		it->job = j;
		it->id = i;
		it->req.data = it;
		// The pool takes requests first in, first out: each pool thread
		// runs its share in increasing item order.
		rc = uv_queue_work(&loop, &it->req, work, after_work);
	}
	// Runs until every queued request's after_work has run, even if
	// queueing stopped early.
	int rr = uv_run(&loop, UV_RUN_DEFAULT);
	(void)rr;
	uv_loop_close(&loop);
	return rc;
}

void uvp_stats_get(uvp_job *j, uvp_stats *out) {
	memset(out, 0, sizeof *out);
	out->done = j->done;
	out->call_failed = __atomic_load_n(&j->call_failed, __ATOMIC_RELAXED);
	out->waited = __atomic_load_n(&j->waited, __ATOMIC_RELAXED);
	out->lost = __atomic_load_n(&j->lost, __ATOMIC_RELAXED);
	out->last_code = __atomic_load_n(&j->last_code, __ATOMIC_RELAXED);
	out->call_slept = __atomic_load_n(&j->call_tm.slept, __ATOMIC_RELAXED);
	out->call_preempted = __atomic_load_n(&j->call_tm.preempted, __ATOMIC_RELAXED);
	out->post_slept = __atomic_load_n(&j->post_tm.slept, __ATOMIC_RELAXED);
	out->post_preempted = __atomic_load_n(&j->post_tm.preempted, __ATOMIC_RELAXED);
}

uint64_t uvp_timings(uvp_job *j, int which, const uint64_t **ns) {
	timing *t = which == 0 ? &j->call_tm : &j->post_tm;
	*ns = t->ns;
	return timing_kept(t);
}

void uvp_free(uvp_job *j) {
	if (j == NULL)
		return;
	timing_free(&j->call_tm);
	timing_free(&j->post_tm);
	free(j->items);
	free(j);
}

const char *uvp_strerror(int code) { return uv_strerror(code); }
