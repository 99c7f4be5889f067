// sdlaudio.c: the C half of the SDL2 audio example. See sdlaudio.h.

#define _GNU_SOURCE
#include "sdlaudio.h"

#include "_cgo_export.h" /* sdlRender, the //export baseline */
#include "foreign.h"
#include "timing.h"

#include <SDL.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sa_dev {
	sa_config cfg;
	SDL_AudioDeviceID id;
	bool subsystem; // SDL_InitSubSystem succeeded: sa_dev_close quits it
	uint8_t silence; // the device format's silent byte value
	int frame_bytes; // bytes per frame: 2 per channel

	// The audio thread's only while the device runs.
	uint64_t seq, pos;
	sa_rec *recs;

	// Written by the audio thread only; read with atomic loads while it
	// runs.
	sa_stats st;
	timing tm;
};

static void count(uint64_t *c) { __atomic_store_n(c, *c + 1, __ATOMIC_RELAXED); }

// fnv1a hashes a buffer as played, for the test: it recomputes the buffer
// Go was asked for and compares, without the audio thread keeping copies.
static uint64_t fnv1a(const uint8_t *b, size_t n) {
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3u;
	return h;
}

// on_audio runs on SDL's audio thread, once a period, and must fill stream
// before the device runs dry. It asks Go for the buffer, which foreign_callv
// writes straight into stream; the wait is bounded a little under the
// period, and a call that gives up never has stream written after it
// returns. If Go is late or fails, the period is played as silence and
// counted: an audible gap, never a stalled audio thread.
static void SDLCALL on_audio(void *user, Uint8 *stream, int len) {
	sa_dev *d = user;
	sa_req req = {.seq = d->seq, .pos = d->pos, .len = (uint32_t)len};
	size_t got = 0;
	int rc = 0;

	timing_mark tm;
	timing_start(&d->tm, &tm);
	if (d->cfg.mode == SA_CALL) {
		const struct foreign_iovec arg = {&req, sizeof req};
		rc = foreign_callv(d->cfg.target, &arg, 1, stream, (size_t)len, &got, d->cfg.timeout_ns);
	} else {
		got = sdlRender(d->cfg.target, &req, stream); // enters the Go runtime on this thread
	}
	timing_stop(&d->tm, &tm);

	if (rc != 0) {
		got = 0;
		count(&d->st.silent);
		if (rc == FOREIGN_ETIMEDOUT)
			count(&d->st.late);
		__atomic_store_n(&d->st.last_code, rc, __ATOMIC_RELAXED);
	} else if (got < (size_t)len) {
		count(&d->st.short_);
	}
	memset(stream + got, d->silence, (size_t)len - got);

	if (d->seq < d->cfg.records) {
		d->recs[d->seq] = (sa_rec){
			.seq = d->seq,
			.pos = d->pos,
			.rc = rc,
			.len = (uint32_t)len,
			.got = (uint32_t)got,
			.hash = fnv1a(stream, (size_t)len),
		};
	}
	d->seq++;
	d->pos += (uint64_t)(len / d->frame_bytes);
	count(&d->st.callbacks);
}

int sa_dev_open(sa_dev **out, const sa_config *cfg, char *errbuf, size_t errlen) {
	*out = NULL;
	sa_dev *d = calloc(1, sizeof *d);
	if (d == NULL || timing_init(&d->tm, cfg->timings, 1) != 0 ||
	    (cfg->records > 0 && (d->recs = calloc(cfg->records, sizeof *d->recs)) == NULL)) {
		if (d != NULL)
			timing_free(&d->tm);
		free(d);
		snprintf(errbuf, errlen, "sa_dev_open: out of memory");
		return -1;
	}
	d->cfg = *cfg;
	d->cfg.driver = NULL; // not kept: the caller's string
	// SDL installs SIGINT and SIGTERM handlers of its own unless told
	// not to; in a Go program the Go runtime owns signals.
	SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
	SDL_SetHint(SDL_HINT_AUDIODRIVER, cfg->driver);
	if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0) {
		snprintf(errbuf, errlen, "SDL_InitSubSystem(audio, %s): %s", cfg->driver, SDL_GetError());
		sa_dev_free(d);
		return -1;
	}
	d->subsystem = true;
	SDL_AudioSpec want = {
		.freq = cfg->freq,
		.format = AUDIO_S16SYS,
		.channels = (Uint8)cfg->channels,
		.samples = (Uint16)cfg->samples,
		.callback = on_audio,
		.userdata = d,
	};
	SDL_AudioSpec have;
	d->id = SDL_OpenAudioDevice(NULL, 0, &want, &have, 0);
	if (d->id == 0) {
		snprintf(errbuf, errlen, "SDL_OpenAudioDevice: %s", SDL_GetError());
		sa_dev_free(d);
		return -1;
	}
	d->silence = have.silence;
	d->frame_bytes = 2 * cfg->channels;
	*out = d;
	return 0;
}

void sa_dev_start(sa_dev *d) { SDL_PauseAudioDevice(d->id, 0); }

void sa_dev_close(sa_dev *d) {
	if (d->id != 0) {
		SDL_CloseAudioDevice(d->id); // waits for the audio thread to end
		d->id = 0;
	}
	if (d->subsystem) {
		SDL_QuitSubSystem(SDL_INIT_AUDIO);
		d->subsystem = false;
	}
}

void sa_dev_stats(sa_dev *d, sa_stats *out) {
	out->callbacks = __atomic_load_n(&d->st.callbacks, __ATOMIC_RELAXED);
	out->silent = __atomic_load_n(&d->st.silent, __ATOMIC_RELAXED);
	out->late = __atomic_load_n(&d->st.late, __ATOMIC_RELAXED);
	out->short_ = __atomic_load_n(&d->st.short_, __ATOMIC_RELAXED);
	out->last_code = __atomic_load_n(&d->st.last_code, __ATOMIC_RELAXED);
	out->pad = 0;
	out->slept = __atomic_load_n(&d->tm.slept, __ATOMIC_RELAXED);
	out->preempted = __atomic_load_n(&d->tm.preempted, __ATOMIC_RELAXED);
}

uint64_t sa_dev_records(sa_dev *d, const sa_rec **recs) {
	*recs = d->recs;
	return d->seq < d->cfg.records ? d->seq : d->cfg.records;
}

uint64_t sa_dev_timings(sa_dev *d, const uint64_t **ns) {
	*ns = d->tm.ns;
	return timing_kept(&d->tm);
}

void sa_dev_free(sa_dev *d) {
	if (d == NULL)
		return;
	sa_dev_close(d);
	timing_free(&d->tm);
	free(d->recs);
	free(d);
}
