// lifecycle.c: C threads that end badly or nest: a waiter cancelled or
// exiting while it blocks in the library, and a call made from a signal
// handler that interrupted the same thread's call. Public ABI only.
#define _GNU_SOURCE
#include "cthreads.h"
#include "foreign.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int ct_post_wait(uintptr_t token, const void *msg, size_t len, int64_t timeout_ns) {
	return foreign_post_wait(token, msg, len, timeout_ns);
}

typedef struct {
	uintptr_t token;
	int how;
	_Atomic int started;
	int rc;
	ct_msg m;
	uint64_t ret;
} blocked_arg;

static void *blocked_main(void *p) {
	blocked_arg *a = p;
	atomic_store(&a->started, 1);
	if (a->how == CT_BLOCK_CALL)
		a->rc = foreign_call(a->token, &a->m, sizeof a->m, &a->ret, sizeof a->ret, -1);
	else
		a->rc = foreign_post_wait(a->token, &a->m, sizeof a->m, -1);
	return NULL;
}

// exit_handler ends the thread it interrupts, from inside the library.
static void exit_handler(int sig) {
	(void)sig;
	pthread_exit(NULL);
}

// on_sigusr2 installs handler for SIGUSR2 (SA_ONSTACK, as Go requires).
static void on_sigusr2(void (*handler)(int)) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
}

int ct_end_blocked(uintptr_t token, int how, int end, int64_t block_ns, int *rc) {
	static blocked_arg a; // one at a time; outlives a thread that never ends
	memset(&a, 0, sizeof a);
	a.token = token;
	a.how = how;
	a.rc = 1;
	a.m.producer = 77;
	if (end == CT_END_EXIT)
		on_sigusr2(exit_handler);
	pthread_t th;
	if (pthread_create(&th, NULL, blocked_main, &a) != 0)
		return -2;
	while (!atomic_load(&a.started))
		sched_yield();
	struct timespec d = {block_ns / 1000000000, block_ns % 1000000000};
	nanosleep(&d, NULL); // long enough to be asleep in the library
	if (end == CT_END_CANCEL)
		pthread_cancel(th);
	else
		pthread_kill(th, SIGUSR2);
	struct timespec lim;
	clock_gettime(CLOCK_REALTIME, &lim);
	lim.tv_sec += 10;
	void *res = NULL;
	if (pthread_timedjoin_np(th, &res, &lim) != 0)
		return -1; // still blocked: the end did not reach it
	*rc = a.rc;
	return (end == CT_END_CANCEL && res != PTHREAD_CANCELED) ? 1 : 0;
}

// The nested call: the outer call's thread is interrupted by SIGUSR2 while
// it waits; the handler calls again and records what it got.
static uintptr_t nest_token;
static uint64_t nest_arg, nest_ret;
static _Atomic int nest_rc = 1;

static void nest_handler(int sig) {
	(void)sig;
	ct_msg m = {.producer = 2, .seq = nest_arg};
	atomic_store(&nest_rc, foreign_call(nest_token, &m, sizeof m, &nest_ret, sizeof nest_ret, 1000000000));
}

typedef struct {
	uintptr_t token;
	uint64_t arg, ret;
	int rc;
	_Atomic int started;
} outer_arg;

static void *outer_main(void *p) {
	outer_arg *a = p;
	ct_msg m = {.producer = 1, .seq = a->arg};
	atomic_store(&a->started, 1);
	a->rc = foreign_call(a->token, &m, sizeof m, &a->ret, sizeof a->ret, 10000000000);
	return NULL;
}

int ct_nested_signal_call(uintptr_t token, uint64_t outer, uint64_t inner, int64_t after_ns, uint64_t *outer_ret,
                          int *outer_rc, uint64_t *inner_ret, int *inner_rc) {
	on_sigusr2(nest_handler);
	nest_token = token;
	nest_arg = inner;
	nest_ret = 0;
	atomic_store(&nest_rc, 1);
	outer_arg a = {.token = token, .arg = outer};
	pthread_t th;
	if (pthread_create(&th, NULL, outer_main, &a) != 0)
		return -1;
	while (!atomic_load(&a.started))
		sched_yield();
	struct timespec d = {after_ns / 1000000000, after_ns % 1000000000};
	nanosleep(&d, NULL);
	pthread_kill(th, SIGUSR2);
	pthread_join(th, NULL);
	*outer_ret = a.ret;
	*outer_rc = a.rc;
	*inner_ret = nest_ret;
	*inner_rc = atomic_load(&nest_rc);
	return 0;
}

// ct_fork_child forks; the child calls every function of the ABI on the
// tokens it inherited (a queue of ct_msg, a function of ct_msg -> uint64,
// an interrupt, a notifier), with no time limits, and exits with a bit set
// for each that did not fail at once with FOREIGN_ECLOSED. The parent waits
// up to 10 s. Returns the child's exit status, or -1 if it had to be killed.
int ct_fork_child(uintptr_t queue, uintptr_t fn, uintptr_t intr, uintptr_t notifier) {
	pid_t pid = fork();
	if (pid < 0)
		return -2;
	if (pid == 0) {
		ct_msg m = {.producer = 5};
		uint64_t ret;
		int bad = 0;
		bad |= (foreign_post(queue, &m, sizeof m) != FOREIGN_ECLOSED) << 0;
		bad |= (foreign_post_wait(queue, &m, sizeof m, -1) != FOREIGN_ECLOSED) << 1;
		bad |= (foreign_call(fn, &m, sizeof m, &ret, sizeof ret, -1) != FOREIGN_ECLOSED) << 2;
		bad |= (foreign_signal(intr, 1) != FOREIGN_ECLOSED) << 3;
		bad |= (foreign_post(notifier, NULL, 0) != FOREIGN_ECLOSED) << 4;
		bad |= (foreign_acquire(queue) != FOREIGN_ECLOSED) << 5;
		bad |= (foreign_release(queue) != FOREIGN_ECLOSED) << 6;
		_exit(bad);
	}
	for (int i = 0; i < 10000; i++) {
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		struct timespec d = {0, 1000000};
		nanosleep(&d, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}
