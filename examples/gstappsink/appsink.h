/*
 * appsink.h: a GStreamer pipeline ending in an appsink whose new-sample
 * callback, running on GStreamer's streaming thread, hands each frame to Go
 * whole: a fixed header and the mapped buffer's bytes. No GstBuffer crosses
 * into Go: the callback maps the buffer, posts, unmaps and unrefs it before
 * it returns. Go side: binding.go.
 */
#ifndef EXAMPLE_APPSINK_H
#define EXAMPLE_APPSINK_H

#include <stddef.h>
#include <stdint.h>

/*
 * The fixed part of a frame. The callback posts it and the frame's bytes as
 * one queue message with foreign_postv: straight from the mapped buffer into
 * the queue, no copy in between. header in binding.go mirrors this layout.
 */
typedef struct {
	uint64_t seq;  /* the frame's number, from 0, as the callback counts them */
	uint64_t pts;  /* presentation time stamp in ns (UINT64_MAX: none) */
	uint32_t size; /* frame bytes, right after this header */
	uint32_t hash; /* CRC-32 (IEEE) of those bytes, computed over the mapped buffer */
} gs_hdr;

/* How the callback hands a frame to Go. */
enum {
	GS_POST = 1,   /* foreign_postv into the byte queue whose token is the target */
	GS_EXPORT = 2, /* call the exported Go function gstDeliver(target, &hdr, data) */
};

typedef struct {
	int mode;
	int32_t pad;
	uintptr_t target; /* a foreign token (GS_POST) or a cgo.Handle (GS_EXPORT) */
	int64_t wait_ns;  /* how long the streaming thread waits for room (GS_POST) */
	uint64_t timings; /* how many hand-off durations to keep (timing.h) */
} gs_config;

/* What the callback did; read with gs_stats_read. */
typedef struct {
	uint64_t callbacks; /* frames the callback handed over (or tried to) */
	uint64_t waited;    /* posts that found the queue full and waited for room */
	uint64_t lost;      /* posts refused even after waiting, or too long: counted, not delivered */
	uint64_t unmapped;  /* samples the callback could not pull or map */
	int32_t last_code;  /* the last refusal's FOREIGN_E* code */
	int32_t pad;
	uint64_t slept;     /* hand-offs during which the thread slept (timing.h) */
	uint64_t preempted; /* hand-offs during which it was preempted */
} gs_stats;

typedef struct gs_pipe gs_pipe;

/*
 * gs_pipe_new builds a pipeline from a gst-launch description whose last
 * element is an appsink named "sink", and installs the callback on it. It
 * returns 0 and the pipeline in *out, or -1 and a message in errbuf.
 */
int gs_pipe_new(gs_pipe **out, const char *desc, const gs_config *cfg, char *errbuf, size_t errlen);

/*
 * gs_pipe_run plays the pipeline until end of stream, an error, or
 * timeout_ns, then stops it (state NULL), which joins its streaming
 * threads: when it returns, the callback will not run again. 0, or -1 and
 * a message in errbuf.
 */
int gs_pipe_run(gs_pipe *p, int64_t timeout_ns, char *errbuf, size_t errlen);

void gs_pipe_stats(gs_pipe *p, gs_stats *out);
/* gs_pipe_timings points *ns at the kept hand-off durations and returns how
 * many there are. Valid until gs_pipe_free; call it after gs_pipe_run. */
uint64_t gs_pipe_timings(gs_pipe *p, const uint64_t **ns);
void gs_pipe_free(gs_pipe *p);

#endif
