// fork.c: what a child of fork() that inherited handles gets ("Fork" in
// block.h): every call of the ABI fails at once with FOREIGN_ECLOSED, and
// no lock of the library is left held by a thread the child does not have.
#include "fq.h"

#include <pthread.h>

static _Atomic int forked;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

// Around fork() the parent holds the library's own locks, so the child
// copies them in a known state (unlocked, below) instead of held by a
// thread that does not exist there. Both are taken only for short steps
// that never block (opening and freeing handles, taking a call slot).
static void before_fork(void) {
	pthread_mutex_lock(&fq_mu);
	pthread_mutex_lock(&slot_mu);
}

static void after_fork_parent(void) {
	pthread_mutex_unlock(&slot_mu);
	pthread_mutex_unlock(&fq_mu);
}

static void after_fork_child(void) {
	atomic_store_explicit(&forked, 1, memory_order_relaxed);
	pthread_mutex_init(&slot_mu, NULL);
	pthread_mutex_init(&fq_mu, NULL);
}

static void register_atfork(void) { pthread_atfork(before_fork, after_fork_parent, after_fork_child); }

FQ_FN void fq_watch_fork(void) { pthread_once(&atfork_once, register_atfork); }

FQ_FN int fq_forked(void) { return atomic_load_explicit(&forked, memory_order_relaxed); }
