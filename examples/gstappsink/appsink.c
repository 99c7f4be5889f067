// appsink.c: the C half of the GStreamer example. See appsink.h.

#define _GNU_SOURCE
#include "appsink.h"

#include "_cgo_export.h" /* gstDeliver, the //export baseline */
#include "foreign.h"
#include "timing.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

// gst_init must run once before anything else in GStreamer; it is not
// meant to race with itself.
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char init_err[256];

static void init(void) {
	GError *err = NULL;
	if (!gst_init_check(NULL, NULL, &err)) {
		snprintf(init_err, sizeof init_err, "gst_init: %s", err != NULL ? err->message : "failed");
		g_clear_error(&err);
	}
}

// crc32 is CRC-32 (IEEE), Go's crc32.ChecksumIEEE, so that Go can check
// every byte of a frame against the hash made here, over the buffer the
// pipeline produced, before it was handed over.
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

static uint32_t crc32(const uint8_t *b, size_t n) {
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ b[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

struct gs_pipe {
	GstElement *pipeline;
	gs_config cfg;
	uint64_t seq; // the streaming thread's only

	// Written by the streaming thread only; read with atomic loads while
	// it runs.
	gs_stats st;
	timing tm;
};

static void count(uint64_t *c) { __atomic_store_n(c, *c + 1, __ATOMIC_RELAXED); }

// post hands the frame to the queue: the header and the mapped bytes,
// gathered by foreign_postv. A streaming thread may block (that is how a
// pipeline applies back-pressure upstream), so a full queue is waited out,
// for at most wait_ns: a frame refused after that is counted as lost, and
// the pipeline goes on rather than hang on a stalled consumer.
static void post(gs_pipe *p, const gs_hdr *h, const void *data) {
	const struct foreign_iovec iov[2] = {{h, sizeof *h}, {data, h->size}};
	int rc = foreign_postv(p->cfg.target, iov, 2);
	if (rc == FOREIGN_EFULL) {
		count(&p->st.waited);
		rc = foreign_postv_wait(p->cfg.target, iov, 2, p->cfg.wait_ns);
	}
	if (rc != 0) {
		count(&p->st.lost);
		__atomic_store_n(&p->st.last_code, rc, __ATOMIC_RELAXED);
	}
}

// on_new_sample runs on the streaming thread for every frame that reaches
// the appsink. The sample is pulled, its buffer mapped, hashed and handed
// over, then unmapped and unreffed here: Go gets bytes, never a GstBuffer,
// so nothing in Go has to keep GStreamer's reference counts right.
static GstFlowReturn on_new_sample(GstAppSink *sink, gpointer user) {
	gs_pipe *p = user;
	GstSample *sample = gst_app_sink_pull_sample(sink);
	if (sample == NULL)
		return GST_FLOW_FLUSHING; // stopping
	GstBuffer *buf = gst_sample_get_buffer(sample);
	GstMapInfo map;
	if (buf == NULL || !gst_buffer_map(buf, &map, GST_MAP_READ)) {
		count(&p->st.unmapped);
		gst_sample_unref(sample);
		return GST_FLOW_OK;
	}
	gs_hdr h = {
		.seq = p->seq++,
		.pts = GST_BUFFER_PTS(buf), // GST_CLOCK_TIME_NONE is UINT64_MAX
		.size = (uint32_t)map.size, // a frame of 4 GiB is not a video frame
		.hash = crc32(map.data, map.size),
	};

	timing_mark tm;
	timing_start(&p->tm, &tm);
	if (p->cfg.mode == GS_POST)
		post(p, &h, map.data);
	else
		gstDeliver(p->cfg.target, &h, map.data); // enters the Go runtime on this thread
	timing_stop(&p->tm, &tm);
	count(&p->st.callbacks);

	gst_buffer_unmap(buf, &map);
	gst_sample_unref(sample);
	return GST_FLOW_OK;
}

int gs_pipe_new(gs_pipe **out, const char *desc, const gs_config *cfg, char *errbuf, size_t errlen) {
	*out = NULL;
	pthread_once(&init_once, init);
	pthread_once(&crc_once, crc_init);
	if (init_err[0] != 0) {
		snprintf(errbuf, errlen, "%s", init_err);
		return -1;
	}
	gs_pipe *p = calloc(1, sizeof *p);
	if (p == NULL || timing_init(&p->tm, cfg->timings, 1) != 0) {
		free(p);
		snprintf(errbuf, errlen, "gs_pipe_new: out of memory");
		return -1;
	}
	p->cfg = *cfg;
	GError *err = NULL;
	p->pipeline = gst_parse_launch(desc, &err);
	if (p->pipeline == NULL || err != NULL) {
		// gst_parse_launch may return a pipeline and a (recoverable) error.
		snprintf(errbuf, errlen, "gst_parse_launch: %s", err != NULL ? err->message : "failed");
		g_clear_error(&err);
		gs_pipe_free(p);
		return -1;
	}
	GstElement *sink = gst_bin_get_by_name(GST_BIN(p->pipeline), "sink");
	if (sink == NULL || !GST_IS_APP_SINK(sink)) {
		snprintf(errbuf, errlen, "no appsink named \"sink\" in %s", desc);
		if (sink != NULL)
			gst_object_unref(sink);
		gs_pipe_free(p);
		return -1;
	}
	// Callbacks rather than the new-sample signal: no signal emission and
	// no GValue marshalling per frame.
	GstAppSinkCallbacks cb = {.new_sample = on_new_sample};
	gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, p, NULL);
	gst_object_unref(sink);
	*out = p;
	return 0;
}

int gs_pipe_run(gs_pipe *p, int64_t timeout_ns, char *errbuf, size_t errlen) {
	int rc = 0;
	if (gst_element_set_state(p->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		snprintf(errbuf, errlen, "the pipeline would not play");
		rc = -1;
	} else {
		// The bus is popped here rather than watched from a GLib main
		// loop: the caller only waits for the end.
		GstBus *bus = gst_element_get_bus(p->pipeline);
		GstMessage *m = gst_bus_timed_pop_filtered(bus, (GstClockTime)timeout_ns,
		                                           GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
		if (m == NULL) {
			snprintf(errbuf, errlen, "no end of stream within %.1f s", (double)timeout_ns / 1e9);
			rc = -1;
		} else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
			GError *err = NULL;
			gst_message_parse_error(m, &err, NULL);
			snprintf(errbuf, errlen, "%s: %s", GST_OBJECT_NAME(GST_MESSAGE_SRC(m)),
			         err != NULL ? err->message : "error");
			g_clear_error(&err);
			rc = -1;
		}
		if (m != NULL)
			gst_message_unref(m);
		gst_object_unref(bus);
	}
	// To NULL synchronously: the streaming threads are stopped and joined
	// when this returns (a thread waiting for room is woken by the queue's
	// consumer, or gives up after wait_ns).
	gst_element_set_state(p->pipeline, GST_STATE_NULL);
	return rc;
}

void gs_pipe_stats(gs_pipe *p, gs_stats *out) {
	out->callbacks = __atomic_load_n(&p->st.callbacks, __ATOMIC_RELAXED);
	out->waited = __atomic_load_n(&p->st.waited, __ATOMIC_RELAXED);
	out->lost = __atomic_load_n(&p->st.lost, __ATOMIC_RELAXED);
	out->unmapped = __atomic_load_n(&p->st.unmapped, __ATOMIC_RELAXED);
	out->last_code = __atomic_load_n(&p->st.last_code, __ATOMIC_RELAXED);
	out->pad = 0;
	out->slept = __atomic_load_n(&p->tm.slept, __ATOMIC_RELAXED);
	out->preempted = __atomic_load_n(&p->tm.preempted, __ATOMIC_RELAXED);
}

uint64_t gs_pipe_timings(gs_pipe *p, const uint64_t **ns) {
	*ns = p->tm.ns;
	return timing_kept(&p->tm);
}

void gs_pipe_free(gs_pipe *p) {
	if (p == NULL)
		return;
	if (p->pipeline != NULL) {
		gst_element_set_state(p->pipeline, GST_STATE_NULL);
		gst_object_unref(p->pipeline);
	}
	timing_free(&p->tm);
	free(p);
}
