// serve.c: which handle the calling thread serves, and the self-deadlock
// checks built on it ("Serving and self-deadlock" in block.h).
#include "fq.h"

// The server tokens this thread is running handlers for, innermost last.
// Set by the Go consumer (locked to the thread meanwhile) around every
// handler run; marks beyond FQ_SERVE_DEPTH are not kept.
static _Thread_local uint64_t serving[FQ_SERVE_DEPTH];
static _Thread_local uint32_t depth;

FQ_FN uint64_t fq_serve_enter(uint64_t server) {
	uint32_t old = depth;
	if (old < FQ_SERVE_DEPTH)
		serving[old] = server;
	depth = old + 1;
	return old;
}

FQ_FN void fq_serve_leave(uint64_t old) { depth = (uint32_t)old; }

// fq_is_serving reports whether this thread serves server, at any depth.
FQ_FN int fq_is_serving(uint64_t server) {
	uint32_t n = depth < FQ_SERVE_DEPTH ? depth : FQ_SERVE_DEPTH;
	for (uint32_t i = 0; i < n; i++)
		if (serving[i] == server && server != 0)
			return 1;
	return 0;
}

FQ_FN int fq_serving_any(void) { return depth > 0; }

// server_of is the token of the consumer that serves the handle t names:
// its Loop's, or its own.
static uint64_t server_of(foreign_token t, fq_ctl *c) {
	uint64_t loop = atomic_load_explicit(&c->loop_token, memory_order_relaxed);
	return loop != 0 ? loop : (uint64_t)t;
}

FQ_FN int fq_served_here(foreign_token t, fq_ctl *c) { return fq_is_serving(server_of(t, c)); }

FQ_FN int fq_self_call(foreign_token t, fq_ctl *c) {
	if (!fq_served_here(t, c))
		return 0;
	uint32_t workers = atomic_load_explicit(&c->workers, memory_order_relaxed);
	if (workers <= 1)
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
