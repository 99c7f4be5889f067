/*
 * ring.pml: the protocol of c/block.h as a Promela model, checked
 * exhaustively by spin (.ci/spin.sh). Each atomic block is one atomic
 * operation of the C (a CAS, an exchange, a seq_cst load or store); the
 * protocol's Dekker pairs are seq_cst in the C, so spin's interleaving
 * semantics (sequential consistency) is the right model for them. Names
 * follow block.h; its sections map to the processes:
 *
 *   "Tail word", "Claim", "Publish"  producer()            claim, then publish
 *   "Consume", "Park and wake"        consumer()            take, park on the wake fd or the futex
 *   "Waiting for room"                producer(WAIT)        waiters, space_seq
 *   "Calls"                           caller(), consumer()  slot state, abandon on timeout
 *   "References"                      releaser(), go_side() [gen][go][count]
 *   "Table" (block reuse)             reuser(), stale()     a token of an older generation
 *
 * Properties: every message a post accepted is delivered exactly once
 * (assertion at the consumer's end); no wake-up is lost and nothing
 * waits for ever (spin's invalid end states: the consumer parked with work
 * claimed, a waiter asleep with room); a late call result is never
 * written into a slot its caller took back; a stale token never claims; the
 * last reference, and only it, closes the handle.
 *
 * The parts are checked one at a time (PART 1: the ring, 2: a call, 3:
 * references); they share no state.
 *
 * Mutations (each must make spin report an error, .ci/spin.sh checks):
 *   WEAK_DEKKER   the consumer looks at the tail before announcing that it
 *                 parks (the store-load order the seq_cst pair provides)
 *   LATE_WRITE    the consumer writes a call's result without the CAS
 *   WEAK_WAITER   a waiter re-checks for room before counting itself
 *   FD_ONLY       a producer wakes a consumer parked on the fd, not one on the futex
 */

#ifndef N
#define N 2          /* ring cells */
#endif
#ifndef PRODUCERS
#define PRODUCERS 2  /* producer(0) posts, the others wait for room */
#endif
#ifndef MSGS
#define MSGS 2       /* per producer */
#endif
#define TOTAL (PRODUCERS * MSGS)

/* Tail word: [gen][closed][pos]; the head and the cells' sequence words. */
byte gen = 1;
bit closed = 0;
byte tail = 0;
byte head = 0;
byte seq[N];             /* cell i is ready for position p when seq == p+1 */
byte cellmsg[N];         /* which message the cell holds */

/* Park and wake. */
mtype = { RUNNING, PARKED, FUTEX, WAKING };
mtype park = RUNNING;
byte wakefd = 0;         /* eventfd counter */
bit sleeping = 0;        /* the consumer is inside FUTEX_WAIT on park */

/* Waiting for room. */
byte waiters = 0;
byte space_seq = 0;

/* Accounting for the properties. */
byte accepted[TOTAL];
byte delivered[TOTAL];
byte n_accepted = 0, n_delivered = 0, producers_done = 0;
bit consumer_done = 0;

/* Calls: one slot. [gen][state] as two variables changed together. */
mtype = { IDLE, PENDING, SLEEPING, COMPLETING, DONE, ABANDONED };
mtype slot = IDLE;
byte slotgen = 0;
bit taken_back = 0;      /* the caller gave up: its result memory is its own again */
bit result_written = 0;

/* References: the Go bit and the C count. */
bit refgo = 1;
byte refcount = 0;
bit ref_closed = 0;

inline notify() {
	/* fq_notify after a seq_cst claim: wake the consumer if it parked.
	 * Only the producer whose CAS moved a parked state to WAKING wakes it:
	 * through the fd (write, then RUNNING) or the futex (RUNNING, then
	 * FUTEX_WAKE). With FD_ONLY a producer knows only the fd park. */
	won = 0;
	atomic {
		if
		:: park == PARKED -> park = WAKING; won = 1
#ifndef FD_ONLY
		:: park == FUTEX -> park = WAKING; won = 2
#endif
		:: else -> skip
		fi
	}
	if
	:: won == 1 -> wakefd++; park = RUNNING
	:: won == 2 -> park = RUNNING; sleeping = 0               /* FUTEX_WAKE wakes every sleeper */
	:: else -> skip
	fi
}

/* producer: posts MSGS messages; with wait, waits for room (post_wait),
 * else a full queue refuses the post. */
proctype producer(byte id; bit wait) {
	byte k = 0, pos, m, seen;
	bit ok;
	byte won;
	do
	:: k < MSGS ->
		m = id * MSGS + k;
		k++;
	retry:
		ok = 0;
		atomic {
			/* claim: one CAS on [gen][closed][pos] */
			if
			:: closed -> skip
			:: !closed && tail - head >= N -> skip            /* full */
			:: !closed && tail - head < N -> pos = tail; tail++; ok = 1
			fi
		}
		if
		:: ok ->
			accepted[m] = 1;
			n_accepted++;
			cellmsg[pos % N] = m;
			seq[pos % N] = pos + 1;                            /* publish (release) */
			notify()
		:: !ok && !closed && wait ->
#ifdef WEAK_WAITER
			seen = space_seq;
			if
			:: tail - head < N -> goto retry
			:: else -> skip
			fi;
			waiters++;
#else
			waiters++;                                        /* seq_cst */
			seen = space_seq;
			if
			:: tail - head < N || closed -> waiters--; goto retry /* the retry with a fresh head */
			:: else -> skip
			fi;
#endif
			(space_seq != seen);                              /* fq_wait32: sleeps while unchanged */
			waiters--;
			goto retry
		:: else -> skip                                       /* refused: full or closed */
		fi
	:: k == MSGS -> break
	od;
	producers_done++
}

/* consumer: takes published cells in order, parks when caught up, and
 * ends once the queue is closed and drained. */
proctype consumer() {
	byte m;
	mtype medium;
	do
	:: seq[head % N] == head + 1 ->
		m = cellmsg[head % N];
		delivered[m]++;
		n_delivered++;
		atomic { head++ }                                     /* release (seq_cst) */
		if
		:: waiters > 0 -> space_seq++                         /* fq_space: wake every waiter */
		:: else -> skip
		fi
	:: seq[head % N] != head + 1 && closed && tail == head -> break
	:: seq[head % N] != head + 1 && !(closed && tail == head) ->
		if
		:: medium = PARKED
		:: medium = FUTEX                                     /* park.go chooses; either may happen */
		fi;
#ifdef WEAK_DEKKER
		if
		:: tail != head || closed -> goto again
		:: else -> skip
		fi;
		atomic { if :: park == RUNNING -> park = medium :: else -> skip fi };
#else
		atomic {
			if
			:: park == RUNNING -> park = medium
			:: else -> goto again                             /* a wake-up is being written */
			fi
		}
		if
		:: tail != head || closed -> atomic { if :: park == medium -> park = RUNNING :: else -> skip fi }; goto again
		:: else -> skip
		fi;
#endif
		if
		:: medium == PARKED ->
			(wakefd > 0);                                     /* sleep on the wake fd */
			wakefd = 0
		:: else ->
			atomic { if :: park == FUTEX -> sleeping = 1 :: else -> skip fi };  /* FUTEX_WAIT checks the word */
			(sleeping == 0)
		fi;
		atomic { if :: park == medium -> park = RUNNING :: else -> skip fi };
	again:
		skip
	od;
	/* Accepted => delivered exactly once. */
	m = 0;
	do
	:: m < TOTAL -> assert(delivered[m] == accepted[m]); m++
	:: m == TOTAL -> break
	od;
	consumer_done = 1    /* the teardown: the block may be reused */
}

/* closer: Close, then every waiter and the consumer woken. With
 * CLOSE_EARLY at any moment, racing the producers (exactly-once under
 * close races); else as a user who closes once every producer is done and
 * every accepted message has been handled, so that a lost wake-up (or a
 * waiter never woken) leaves everyone blocked: an invalid end state. */
proctype closer() {
	byte won;
#ifndef CLOSE_EARLY
	(producers_done == PRODUCERS && n_delivered == n_accepted);
#endif
	closed = 1;
	space_seq++;
	notify()
}

/* stale: a producer holding a token of generation 1 that posts after the
 * block was closed, drained and reused (a new generation, open again):
 * its claim compares the generation and must never succeed. */
bit stale_claimed = 0;
proctype stale() {
	byte tgen = 1;
	(gen == 2);
	atomic {
		if
		:: gen == tgen && !closed && tail - head < N -> stale_claimed = 1
		:: else -> skip
		fi
	}
	assert(!stale_claimed)
}

proctype reuser() {
	(consumer_done && producers_done == PRODUCERS);
	atomic { gen++; closed = 0 }
}

/* caller and callee: a call that times out (abandons) races its
 * completion; the result is never written into memory taken back. */
proctype caller() {
	atomic { slotgen++; slot = PENDING };
	if
	:: atomic { slot == PENDING -> slot = SLEEPING }
	:: skip
	fi;
	if
	:: atomic { (slot == DONE) -> slot = IDLE }                 /* got it */
	:: atomic { (slot == PENDING || slot == SLEEPING) -> slot = ABANDONED; taken_back = 1 }  /* timed out */
	fi
}

proctype callee() {
	bit mine = 0;
#ifdef LATE_WRITE
	mine = 1;
#else
	atomic {
		if
		:: slot == PENDING || slot == SLEEPING -> slot = COMPLETING; mine = 1
		:: else -> skip                                       /* the caller gave up: drop */
		fi
	}
#endif
	if
	:: mine ->
		assert(!taken_back);                                  /* never a late write */
		result_written = 1;
		atomic { if :: slot == COMPLETING -> slot = DONE :: else -> skip fi }
	:: else -> skip
	fi
}

/* References: a C user acquires and releases, then releases once more
 * without an acquire (refused, EINVAL); the Go side drops its own. The
 * last reference to go, and only it, closes the handle: never while the
 * Go side holds its reference. */
inline drop_c() {
	atomic {
		if
		:: refcount > 0 -> refcount--; if :: refcount == 0 && !refgo -> ref_closed = 1 :: else -> skip fi
		:: else -> skip                                       /* EINVAL: changes nothing */
		fi;
		assert(!(ref_closed && refgo))
	}
}

proctype releaser() {
	atomic { if :: !ref_closed -> refcount++ :: else -> skip fi };   /* acquire */
	drop_c();
	drop_c()                                                          /* unmatched */
}

proctype go_side() {
	atomic { refgo = 0; if :: refcount == 0 -> ref_closed = 1 :: else -> skip fi }
}

/* One part at a time (PART, set by .ci/spin.sh): the parts share no
 * state, and checking them apart keeps each state space small. */
init {
	atomic {
#if PART == 1
		run consumer();
		run producer(0, 0);
		run producer(1, 1);
#if PRODUCERS > 2
		run producer(2, 1);
#endif
		run closer();
		run reuser();
		run stale()
#elif PART == 2
		run caller();
		run callee()
#else
		run releaser();
		run go_side()
#endif
	}
}
