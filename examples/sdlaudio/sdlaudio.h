/*
 * sdlaudio.h: an SDL2 audio device whose callback, running on SDL's audio
 * thread, asks Go for every buffer and plays silence when Go does not
 * answer in time. Go side: binding.go.
 */
#ifndef EXAMPLE_SDLAUDIO_H
#define EXAMPLE_SDLAUDIO_H

#include <stddef.h>
#include <stdint.h>

/*
 * What the callback asks Go for: the argument of foreign_callv. The result
 * is the buffer itself, written by foreign_callv straight into SDL's
 * stream. Request in binding.go mirrors this layout.
 */
typedef struct {
	uint64_t seq; /* the callback's number, from 0 */
	uint64_t pos; /* the stream's position in frames: frames played so far, silence included */
	uint32_t len; /* bytes wanted */
	uint32_t pad;
} sa_req;

/* One callback as the audio thread saw it, kept for the test to check. */
typedef struct {
	uint64_t seq;
	uint64_t pos;
	int32_t rc;    /* 0: it played what Go returned; else why not (FOREIGN_E*): silence */
	uint32_t len;  /* the buffer's bytes */
	uint32_t got;  /* bytes Go returned (the rest of the buffer is silence) */
	uint32_t pad;
	uint64_t hash; /* FNV-1a (64-bit) of the whole buffer as played */
} sa_rec;

/* How the callback asks Go. */
enum {
	SA_CALL = 1,   /* foreign_callv to the BytesFunc whose token is the target, with a timeout */
	SA_EXPORT = 2, /* call the exported Go function sdlRender(target, &req, stream) */
};

typedef struct {
	const char *driver; /* SDL's audio driver: "dummy" plays into nothing, on time */
	int mode;
	int freq, channels, samples; /* frames per second, channels, frames per callback (S16) */
	int32_t pad;
	uintptr_t target;   /* a foreign token (SA_CALL) or a cgo.Handle (SA_EXPORT) */
	int64_t timeout_ns; /* how long a callback waits for Go (SA_CALL) */
	uint64_t records;   /* how many callbacks to record (sa_rec) */
	uint64_t timings;   /* how many hand-off durations to keep (timing.h) */
} sa_config;

/* What the callback did; read with sa_dev_stats. */
typedef struct {
	uint64_t callbacks; /* buffers SDL asked for */
	uint64_t silent;    /* buffers played as silence: Go did not answer in time, or failed */
	uint64_t late;      /* of those, calls that timed out (FOREIGN_ETIMEDOUT) */
	uint64_t short_;    /* answers shorter than the buffer (the rest played as silence) */
	int32_t last_code;  /* the last failure's FOREIGN_E* code */
	int32_t pad;
	uint64_t slept;     /* hand-offs during which the thread slept (timing.h) */
	uint64_t preempted; /* hand-offs during which it was preempted */
} sa_stats;

typedef struct sa_dev sa_dev;

/*
 * sa_dev_open starts SDL's audio subsystem with cfg->driver and opens the
 * default output device for signed 16-bit native-endian samples at the
 * rate, channels and buffer size asked (SDL converts if the device differs:
 * the callback always sees these). The device starts paused. It returns 0
 * and the device in *out, or -1 and a message in errbuf. Not to be called
 * concurrently with itself or sa_dev_close: SDL's initialisation is not
 * thread-safe.
 */
int sa_dev_open(sa_dev **out, const sa_config *cfg, char *errbuf, size_t errlen);
/* sa_dev_start unpauses the device: the callbacks begin. */
void sa_dev_start(sa_dev *d);
/* sa_dev_close closes the device, which joins the audio thread: when it
 * returns, the callback will not run again. */
void sa_dev_close(sa_dev *d);

void sa_dev_stats(sa_dev *d, sa_stats *out);
/* sa_dev_records and sa_dev_timings point at what was kept and return how
 * many there are. Valid until sa_dev_free; call them after sa_dev_close. */
uint64_t sa_dev_records(sa_dev *d, const sa_rec **recs);
uint64_t sa_dev_timings(sa_dev *d, const uint64_t **ns);
void sa_dev_free(sa_dev *d);

#endif
