// serve.c: which handle the calling thread serves, and the self-deadlock
// checks built on it ("Serving and self-deadlock" in block.h).
#include "fq.h"

// The server token this thread is running handlers for, or 0. Set by the
// Go consumer (locked to the thread meanwhile) around every handler run.
static _Thread_local uint64_t serving;

FQ_FN uint64_t fq_serve_enter(uint64_t server) {
	uint64_t old = serving;
	serving = server;
	return old;
}

FQ_FN void fq_serve_leave(uint64_t old) { serving = old; }

FQ_FN uint64_t fq_serving(void) { return serving; }

// server_of is the token of the consumer that serves the handle t names:
// its Loop's, or its own.
static uint64_t server_of(foreign_token t, fq_ctl *c) {
	uint64_t loop = atomic_load_explicit(&c->loop_token, memory_order_relaxed);
	return loop != 0 ? loop : (uint64_t)t;
}

FQ_FN int fq_served_here(foreign_token t, fq_ctl *c) { return serving != 0 && serving == server_of(t, c); }

FQ_FN int fq_self_call(foreign_token t, fq_ctl *c) {
	if (!fq_served_here(t, c))
		return 0;
	uint32_t workers = atomic_load_explicit(&c->workers, memory_order_relaxed);
	if (serving != (uint64_t)t || workers <= 1)
		return FOREIGN_EDEADLK; // the one thread that would serve it is this one
	// Workers: allowed while some worker is not itself waiting in a nested
	// call; that one will get to ours.
	uint32_t n = atomic_fetch_add_explicit(&c->nested, 1, memory_order_seq_cst) + 1;
	if (n >= workers) {
		atomic_fetch_sub_explicit(&c->nested, 1, memory_order_relaxed);
		return FOREIGN_EDEADLK;
	}
	return 1;
}

FQ_FN void fq_self_call_end(fq_ctl *c) { atomic_fetch_sub_explicit(&c->nested, 1, memory_order_relaxed); }
