/*
 * bytes.pml: the byte ring of c/block.h ("Byte rings", "Claim (bytes)",
 * "Publish (bytes)", "Consume (bytes)", "Reservation", "Waiting for room")
 * as a Promela model, checked exhaustively by spin (.ci/spin.sh) as
 * ring.pml checks the cell ring. Each atomic block is one atomic operation
 * of the C or the Go (a load, a store, a CAS) with the private computation
 * around it; the operations that matter are seq_cst or release/acquire
 * pairs, so spin's interleavings (sequential consistency) are the right
 * model for them. Names follow block.h and the code:
 *
 *   producer(wait=0)  fq_post (post.c: claim, claim_room; bytes.c:
 *                     fq_publish_bytes), posted again by its caller while
 *                     it says EFULL; PostBytes (bytes.go) is the same
 *   producer(wait=1)  fq_post_wait: begin_post, then rounds of wait_room
 *                     (count itself in waiters, read space_seq, claim with
 *                     a fresh head, take the reservation with fq_reserve
 *                     when full and claim again as its holder, sleep in
 *                     fq_wait32), fq_unreserve once it has claimed
 *   consumer()        bytes.go Next (the header word of rd, acquire: 0 is
 *                     not yet; else store 0 into it, then a pad: skip to
 *                     the data area's end; else the payload in place) and
 *                     Release (store head, load waiters and bump
 *                     space_seq); cbytes.c likewise, whose checks of what
 *                     it reads are assertions here
 *
 * Scale. The data area is SIZE = 8 words of 8 bytes, and the header array
 * beside it SIZE header words, one per data word: the header of the
 * record at position p is hdr[p % SIZE]. A record of L payload words takes
 * REC(L) = max(1, L) words of data (fq_rec_size: 8 bytes at least, so
 * that a message of 0 bytes has a position, and a header word, of its
 * own). Positions count words modulo M and start at START, 4 words before
 * both the data area's end and the wrap of M, so that positions and the
 * signed difference (fq_diff) wrap and pads are needed from the start. A
 * header is HDR_VALID + L, or HDR_PAD (FQ_HDR_*). There are no tags: two
 * records of the same length at the same position a lap apart have the
 * same header, and only the consumer's zeroing keeps the old one from
 * being read as the new. Word i of message m's payload holds DATA(m, i),
 * which no other message and word writes, so a consumer that reads data
 * too early (an old lap's, or none yet: the data area is anything at
 * open, here 0, which no message writes) sees it.
 *
 * PART 1 (safety, finite; pan -DSAFETY). CFG 1: producer 0 waits, with
 * messages of 4 and 3 payload words; producer 1 does not wait, with 2, 0
 * and 3 words, and posts again while refused (it blocks until head or
 * reserve changes, so that a post refused for ever is an invalid end
 * state). CFG 2: both wait (4, 2 and 3, 4 words): the reservation taken
 * in turns. The records fill the data area more than once, so headers are
 * read at positions that held one a lap before. M = 64: no claim in
 * flight can be a whole M old. Checked with assertions and spin's invalid
 * end states:
 *   - a header word the consumer reads nonzero is the header of a live
 *     record, published and not yet read (ghost hwho[]: set by the
 *     producer's store, cleared by the consumer's read): never an old
 *     lap's; a record is the one claimed there (ghost crec[]) with its
 *     length, a pad the one claimed there (cpos[]), only where its record
 *     did not fit; the record or pad lies inside what was claimed (tail)
 *     and no header word inside it is nonzero (cbytes.c's check);
 *   - the payload is in place (never split by the data area's end) and
 *     holds what its producer wrote (DATA);
 *   - every message delivered exactly once (all of them at the end), and
 *     each producer's in order;
 *   - no producer writes data the consumer has not released: less than a
 *     ring ahead of head, not read and still handed out (ghost held[]),
 *     nor a word of another live record (dwho[]); nor a header the
 *     consumer has not released: a position less than a ring ahead of
 *     head, whose header word the consumer has zeroed since it read it
 *     (ghost zpend[]), and no live record's header (hwho[]); and the
 *     consumer never zeroes a live record's header;
 *   - the reservation: one holder at a time, cleared only by its holder,
 *     which claims against the whole ring; a post that read it claims only
 *     if that leaves it free (ring - reserved);
 *   - nothing waits for ever: a waiter asleep, or a post refused, with
 *     nothing left to wake it is an invalid end state.
 *
 * PART 2 (liveness, -DLIVE; pan -DNP -l -f). The waiter posts messages of
 * LW = 3 payload words for ever, as fq_post_wait (reservation 6 of the 8
 * words); the small producer posts 2-word messages for ever, at once
 * again whenever refused; the consumer consumes for ever and releases
 * after any number of records. The waiter's claim is a progress state, so
 * spin's non-progress cycles under weak fairness are the runs in which
 * the waiter is starved while every process that can move does. To keep
 * this small, steps are coarser than in PART 1, which checks them one by
 * one: a claim is one step after the load of reserve (a step of its own,
 * so that the small post's load can come before the waiter takes the
 * reservation and its claim after: the claim that ignores it); so no tail
 * is stale, a depth is 0..SIZE, and M = 2 SIZE; there is no head cache,
 * and no payload; a publish is one step, so is a read with its zeroing,
 * and so are the waiter's count-and-read of space_seq, and its
 * leave-unreserve-wake.
 *
 * Not modelled: parking and waking the consumer (ring.pml checks that
 * Dekker pair; here the consumer waits on a guard, never missing a
 * wake-up), Close, generations and reuse (the [gen] in tail, head_cache
 * and reserve; ring.pml checks a stale token; a byte ring's header array
 * is zeroed at each open), stamps (one more payload word), the counts,
 * EMSGSIZE, calls' headers, cancellation, spurious wake-ups, two waiters'
 * liveness (CFG 2 checks their safety and that no waiter sleeps for ever
 * in a finite run).
 *
 * PART 3 (-DGO_WAITER, safety): a C waiter whose
 * deadline may pass (holding the reservation: the timeout is its give-up
 * path), a Go waiter (PostBytesWait: goWaiters, the room channel) and a
 * small C post. The Go waiter sleeps on the room channel, which the
 * consumer's release closes when goWaiters != 0, and a Go holder's
 * unreserve (WakeWaiters). A C holder's fq_unreserve bumps space_seq and
 * wakes the consumer, which relays the bump to the Go waiters (bytes.go,
 * relayRoom); the relay is one step here. Without it (mutation
 * NO_GO_WAKE, the code as it first was) spin finds the Go waiter asleep
 * for ever on an empty ring once the C holder gives the reservation up
 * (an invalid end state). NO_TIMEOUT (the C waiter never gives up) checks
 * PostBytesWait's own protocol.
 *
 * Mutations (each must make spin report an error; .ci/spin.sh checks):
 *   NO_ZERO           the consumer does not zero the header words it
 *                     reads: an old lap's header is taken for a new
 *                     record. spin finds it first inside a record (the
 *                     check cbytes.c makes); with GO_NEXT, which leaves
 *                     that check out as bytes.go's Next does, at the read
 *                     cursor: a message delivered twice, or torn
 *   HEAD_BEFORE_ZERO  the consumer zeroes the headers it read in Release,
 *                     after its store of head: a producer that claimed
 *                     there meanwhile stores its header into a word not
 *                     yet zeroed, and the zero then wipes it (lost)
 *   HEADER_FIRST      the producer stores the header before the payload
 *   PAD_SPLIT         no pad: a record may run over the data area's end
 *   PAD_UNCLAIMED     the CAS claims the record but not the pad before it
 *   ZERO_SIZE         a message of 0 bytes takes no data (fq_rec_size(0)
 *                     = 0): the next record has the same header word
 *   NO_RESERVE        posts that do not wait ignore the reservation
 *   SMALL_RESERVE     the reservation is the record alone, not the record
 *                     and a pad (PART 2: the waiter starves)
 *   HOLDER_BLIND      the holder, too, leaves its own reservation free
 *   LATE_SEEN         a waiter reads space_seq after its claim
 *   NO_GO_WAKE        (part 3) a C holder's unreserve wakes only C waiters
 * Not a bug: NO_RING_GUARD, Next without its test of a cursor a whole
 * ring ahead of head (the ring full of records read, none released). With
 * inline headers the word there was the live header at head, read again
 * as a new record; now it is the header word at head, which the consumer
 * zeroed when it read it and no producer can store into before the
 * release, so Next finds 0 and waits. spin finds no error, and every
 * configuration does reach a ring full of records read (.ci/spin.sh runs
 * it as a clean run); the code still makes the test, harmlessly.
 */

#ifndef SIZE
#define SIZE 8          /* data words; as many header words */
#endif
#ifdef LIVE
#define M (2 * SIZE)    /* positions count modulo M */
#else
#define M 64
#endif
#ifndef START
#define START (M - 4)   /* the first position: slot 4, 4 words before the wrap */
#endif
#ifndef CFG
#define CFG 1
#endif
#ifndef LW
#define LW 3            /* PART 2: the waiter's payload words */
#endif
#ifndef LS
#define LS 2            /* PART 2: the small producer's */
#endif

#define DIFF_U(a, b) (((a) + M - (b)) % M)
#ifdef LIVE
#define DIFF(a, b) (DIFF_U(a, b) <= SIZE -> DIFF_U(a, b) : DIFF_U(a, b) - M) /* -SIZE < fq_diff <= SIZE */
#else
#define DIFF(a, b) (DIFF_U(a, b) < M / 2 -> DIFF_U(a, b) : DIFF_U(a, b) - M) /* fq_diff */
#endif

#define HDR_VALID 64    /* FQ_HDR_VALID: a record's header is HDR_VALID + its payload words */
#define HDR_PAD 32      /* FQ_HDR_PAD: a pad's */

/* fq_rec_size: the data words of a record of l payload words. */
#ifdef ZERO_SIZE
#define REC(l) (l)
#else
#define REC(l) ((l) == 0 -> 1 : (l))
#endif

#define DATA(m, i) (1 + 4 * (m) + (i))  /* word i (< 4) of message m's payload: never 0 */

#define BEGIN 0   /* begin_post's claim */
#define FIRST 1   /* wait_room: the claim after counting itself */
#define SECOND 2  /* wait_room: the claim as the new holder */
#define AFTER 3   /* wait_room: the claim after fq_wait32 */

#ifdef GO_WAITER
#define NPROD 3   /* 0: C waiter (may time out), 1: small C post, 2: Go waiter */
#define K0 1
#define K1 2
#define K2 1
#define TOTAL 4
#define WAIT1 0
#define CWAITER (id != 2)
#define FIRSTM(id) (id == 0 -> 0 : (id == 1 -> K0 : K0 + K1))
#define NK(id) (id == 0 -> K0 : (id == 1 -> K1 : K2))
#define PROD(m) (m < K0 -> 0 : (m < K0 + K1 -> 1 : 2))
#define LENS mlen[0] = 4; mlen[1] = 2; mlen[2] = 4; mlen[3] = 2
#else
#define NPROD 2
#if CFG == 1
#define K0 2
#define K1 3
#define WAIT1 0
#define LENS mlen[0] = 4; mlen[1] = 3; mlen[2] = 2; mlen[3] = 0; mlen[4] = 3
#else
#define K0 2
#define K1 2
#define WAIT1 1
#define LENS mlen[0] = 4; mlen[1] = 2; mlen[2] = 3; mlen[3] = 4
#endif
#define TOTAL (K0 + K1)
#define CWAITER 1
#define FIRSTM(id) (id == 0 -> 0 : K0)
#define NK(id) (id == 0 -> K0 : K1)
#define PROD(m) (m < K0 -> 0 : 1)
#endif

/* The control block: tail, head_cache and reserve on the producers' line,
 * head on the consumer's; [gen] is left out (one generation). */
byte tail = START;
byte head = START;
byte head_cache = START;
byte reserve = 0;        /* the words a waiter holds for itself; 0: none */
byte waiters = 0;        /* C waiters */
bit bumped[NPROD];       /* space_seq has moved since producer i read it (fq_wait32 returns) */
byte hdr[SIZE];          /* the header array: zeroed at open */

#ifndef LIVE
byte data[SIZE];         /* the data area: anything at open (0, which no message writes) */

/* Ghosts, for the properties. */
byte hwho[SIZE];         /* 0, or 1 + 2 * message + (0 record, 1 pad): the live header there,
                          * from its producer's store to the consumer's read */
bit zpend[SIZE];         /* the consumer read the header there and has not zeroed it yet */
byte dwho[SIZE];         /* 0, or 1 + message: who wrote the data word, for a record not yet
                          * released (the release clears it) */
bit held[SIZE];          /* data read by the consumer (a record's or a pad's), not yet released */
byte mlen[TOTAL];        /* payload words of each message */
byte cpos[TOTAL];        /* where each was claimed (its pad, if any) */
byte crec[TOTAL];        /* where its record is */
byte delivered[TOTAL];
byte nextm[NPROD];       /* per producer: the next message due */
byte producers_done = 0;
byte res_owner = 255;    /* who holds the reservation */
#endif

#ifdef GO_WAITER
byte go_waiters = 0;     /* goWaiters */
bit room_closed = 0;     /* the Go waiter's room channel was closed since it took it */
#endif

/* fq_space: bump space_seq and wake every waiter. */
inline space() {
	atomic {
		bumped[0] = 1;
		bumped[1] = 1
#if NPROD > 2
		; bumped[2] = 1
#endif
	}
}

/* roomAppeared: close the Go waiters' channel. */
inline room_appeared() {
#ifdef GO_WAITER
	room_closed = 1
#else
	skip
#endif
}

/* The pad: total is the record, and the pad before it when the record
 * does not fit before the data area's end (q: to_end). */
#ifdef PAD_SPLIT
#define TOTAL_OF(rec, q) (rec)
#else
#define TOTAL_OF(rec, q) ((rec) <= (q) -> (rec) : (q) + (rec))
#endif

/* The depth limit: the ring minus the reservation, unless this post holds it. */
#if defined(HOLDER_BLIND)
#define LIMIT(rr, total) (SIZE - (rr) - (total))
#elif defined(NO_RESERVE)
#define LIMIT(rr, total) (SIZE - (holder || !wait -> 0 : (rr)) - (total))
#else
#define LIMIT(rr, total) (SIZE - (holder -> 0 : (rr)) - (total))
#endif

/* fq_reserve: a record and a pad, at worst (no more than the ring). */
#ifdef SMALL_RESERVE
#define RESERVATION(rec) (rec)
#else
#define RESERVATION(rec) (2 * (rec) < SIZE -> 2 * (rec) : SIZE)
#endif

#ifdef PAD_UNCLAIMED
#define NEXT_TAIL(pos, rec, total) (((pos) + (rec)) % M)
#else
#define NEXT_TAIL(pos, rec, total) (((pos) + (total)) % M)    /* one CAS claims the record and the pad */
#endif

#ifndef LIVE
/* One claim: claim() and claim_room (claimBytes in Go), step by
 * step. In: rec, fresh, holder. Out: efull, or the claim pos, total,
 * recpos. */
inline claim_bytes() {
	pos = tail;                                          /* claim(): load tail (acquire) */
	do
	:: atomic {
		rr = reserve;                                    /* reserved_for_others: load reserve (acquire) */
		q = SIZE - pos % SIZE;                           /* to_end */
		total = TOTAL_OF(rec, q);
		limit = LIMIT(rr, total)
	   }
	   if
	   :: fresh -> depth = SIZE + 1
	   :: else -> depth = DIFF(pos, head_cache)         /* load head_cache (acquire) */
	   fi;
	   if
	   :: depth > limit ->
		atomic { h = head; depth = DIFF(pos, h) }        /* the cache says no room: load head (seq_cst) */
		if
		:: depth > limit -> efull = 1; pos = 0; total = 0; break  /* EFULL */
		:: else
		fi;
		head_cache = h                                   /* store head_cache (release) */
	   :: else
	   fi;
	   if
	   :: depth < 0 -> pos = tail                       /* our tail is older than head: reload it */
	   :: else ->
		atomic {                                         /* CAS tail (seq_cst) */
			if
			:: tail == pos ->
				tail = NEXT_TAIL(pos, rec, total);
				recpos = (total == rec -> pos : (pos + q) % M);
				efull = 0;
				cpos[m] = pos;
				crec[m] = recpos;
				/* A post that saw the reservation leaves it free. */
				d = DIFF(tail, head);
				assert(holder || rr == 0 || d <= SIZE - rr);
				d = 0;
				assert(!holder || res_owner == id);
				break
			:: else -> pos = tail                        /* failed: the CAS loads tail */
			fi
		}
	   fi
	od;
	atomic { q = 0; limit = 0; depth = 0 }
}

/* The producer's writes of data: never into a word the consumer has not
 * released (a ring ahead of head, or read and still handed out), nor into
 * one of another live record (another claim's). */
#define DWRITE(p, v, w) \
	s = (p) % SIZE; \
	d = DIFF(p, head); \
	assert(d >= 0 && d < SIZE && !held[s]);  /* released by the consumer */ \
	assert(dwho[s] == 0);                    /* no live record's data there: no overlap */ \
	data[s] = v; \
	dwho[s] = w; \
	d = 0

/* And of a header: only into the word of a position released to it,
 * whose header the consumer has zeroed since it read it, and that holds
 * no live record's header (another claim's). */
#define HWRITE(p, v, w) \
	s = (p) % SIZE; \
	d = DIFF(p, head); \
	assert(d >= 0 && d < SIZE);              /* a position released by the consumer */ \
	assert(!zpend[s]);                       /* whose header the consumer has zeroed */ \
	assert(hwho[s] == 0);                    /* no live record's header there: no overlap */ \
	hdr[s] = v; \
	hwho[s] = w; \
	d = 0

inline payload() {
	atomic {
		i = 0;
		do
		:: i < L -> DWRITE((recpos + i) % M, DATA(m, i), 1 + m); i++
		:: else -> break
		od;
		i = 0; s = 0
	}
}

/* fq_publish_bytes (putBytes): the payload into the data, then the header
 * (release), then the pad's header (release). */
inline publish() {
#ifndef HEADER_FIRST
	payload();
#endif
	atomic { HWRITE(recpos, HDR_VALID + L, 1 + 2 * m); s = 0 };
#ifdef HEADER_FIRST
	payload();
#endif
	if
	:: recpos != pos -> atomic { HWRITE(pos, HDR_PAD, 1 + 2 * m + 1); s = 0 }
	:: else
	fi
}

/* fq_reserve: a CAS from a word of none (the load and CAS loop is one
 * test-and-set: it fails only if another waiter took it). */
inline reserve_cas() {
	atomic {
		if
		:: reserve == 0 -> reserve = R; reserved = 1; assert(res_owner == 255); res_owner = id
		:: else                                          /* another waiter holds it */
		fi
	}
}

/* producer: with wait, fq_post_wait (the C waiter; with GO_WAITER,
 * producer 2 is PostBytesWait); without, fq_post retried while refused. */
proctype producer(byte id; bit wait) {
	byte k = 0, m = 0, L, rec, R, total, pos, recpos, h, rr, q, s, i;
	short limit, depth, d;
	bit fresh, holder, reserved, efull;
	byte stage;
#ifdef GO_WAITER
	bit gave_up;
#endif

	do
	:: k == NK(id) -> break
	:: k < NK(id) ->
		atomic {
			m = FIRSTM(id) + k;
			k++;
			L = mlen[m];
			rec = REC(L);
			R = RESERVATION(rec);
			fresh = 0; holder = 0; stage = BEGIN
		}
	try:
		claim_bytes();                                   /* begin_post, or a round's */
		if
		:: !efull -> goto claimed
		:: else
		fi;
		/* EFULL */
		if
		:: !wait ->                                      /* the caller posts again, once it could succeed */
			atomic { (head != h || reserve != rr) -> h = 0; rr = 0 };
			goto try
		:: else -> atomic { h = 0; rr = 0 }
		fi;
		if
#ifdef GO_WAITER
		:: id == 2 && stage == BEGIN -> goto goround
		:: id == 2 && stage == FIRST ->
			(room_closed);                               /* select <-room */
			go_waiters--;
			goto goround
		:: id != 2 && stage == BEGIN -> goto round
#else
		:: stage == BEGIN -> goto round
#endif
		:: CWAITER && stage == FIRST && !reserved -> goto reserve_it
		:: CWAITER && stage == FIRST && reserved -> goto sleep
		:: CWAITER && stage == SECOND -> goto sleep
		:: CWAITER && stage == AFTER -> waiters--; goto round  /* wait_room returns EFULL: another round */
		fi;
	round:                                               /* wait_room */
		waiters++;                                       /* seq_cst */
#ifndef LATE_SEEN
		bumped[id] = 0;                                  /* seen = space_seq (seq_cst) */
#endif
		atomic { fresh = 1; holder = reserved; stage = FIRST };
		goto try;
	reserve_it:
		reserve_cas();
		if
		:: reserved -> holder = 1; stage = SECOND; goto try  /* the room the others leave may do now */
		:: else
		fi;
	sleep:
#if defined(GO_WAITER) && !defined(NO_TIMEOUT)
		if
		:: waiters--; gave_up = 1; goto unreserve        /* its deadline passed: ETIMEDOUT */
		:: skip
		fi;
#endif
#ifdef LATE_SEEN
		bumped[id] = 0;
#endif
#if defined(GO_WAITER) && !defined(NO_TIMEOUT)
		if
		:: (bumped[id])                                  /* fq_wait32: sleeps while space_seq == seen */
		:: waiters--; goto round                         /* fq_wait32 timed out: EFULL, another round */
		fi;
#else
		(bumped[id]);                                    /* fq_wait32: sleeps while space_seq == seen */
#endif
		stage = AFTER;
		goto try;
#ifdef GO_WAITER
	goround:                                             /* PostBytesWait: one round */
		go_waiters++;
		room_closed = 0;                                 /* room := roomChan() */
		if
		:: !reserved -> reserve_cas()
		:: else
		fi;
		atomic { fresh = 1; holder = reserved; stage = FIRST };
		goto try;
#endif
	claimed:
		if
		:: stage != BEGIN ->
#ifdef GO_WAITER
			if
			:: id == 2 -> go_waiters--
			:: else -> waiters--
			fi
#else
			waiters--                                    /* leave_waiters */
#endif
		:: else
		fi;
#ifdef GO_WAITER
	unreserve:
#endif
		if
		:: reserved ->                                   /* fq_unreserve: CAS from its own word, then fq_space */
			atomic { assert(reserve == R && res_owner == id); res_owner = 255; reserve = 0; reserved = 0 };
			space();
#ifdef GO_WAITER
			if
			:: id == 2 -> room_appeared()                /* unreserve: WakeWaiters, C and Go */
			:: else ->
#ifndef NO_GO_WAKE
				room_appeared()                          /* fq_unreserve's fq_notify: the consumer relays (relayRoom) */
#else
				skip                                     /* the mutation: space_seq only */
#endif
			fi
#endif
		:: else
		fi;
		atomic { fresh = 0; holder = 0; stage = BEGIN };
#ifdef GO_WAITER
		if
		:: gave_up -> gave_up = 0; goto next             /* ETIMEDOUT: the message is not posted */
		:: else
		fi;
#endif
		publish();
#ifdef GO_WAITER
	next:
#endif
		atomic { L = 0; rec = 0; R = 0; pos = 0; recpos = 0; total = 0; m = 0 }
	od;
	producers_done++
}

/* The consumer's store of 0 into the header word z it read (Next): no
 * producer can have stored into it since the read. */
inline zero_header() {
	assert(hwho[z] == 0);                                /* it zeroes no live record's header */
#ifndef NO_ZERO
	hdr[z] = 0;
#endif
	zpend[z] = 0                                         /* ghost: the step is done (even if it stores nothing) */
}

/* cbytes.c's check that no header word inside a record or a pad is
 * nonzero; left out with GO_NEXT (bytes.go's Next does not look), to see
 * what the Go consumer would do with a stale header. */
#ifdef GO_NEXT
#define INNER(inside, t) skip
#else
#define INNER(inside, t) assert(!(inside) || hdr[t] == 0)
#endif

/* consumer: Next until a header word reads 0, in place; Release at any
 * point: store head, wake the waiters. */
proctype consumer() {
	byte rd = START, p, s, t, i, m, lc, r, g, z, w;
	short d;
	do
	:: atomic {
		/* Next: a cursor a whole ring ahead of head reads no further (the
		 * ring is full of records read and not released); else the header
		 * word (acquire): 0 is not published yet. */
#ifdef NO_RING_GUARD
		hdr[rd % SIZE] != 0 ->
#else
		DIFF(rd, head) < SIZE && hdr[rd % SIZE] != 0 ->
#endif
		s = rd % SIZE;
		w = hdr[s];
		g = hwho[s];                                     /* ghost: the live header there, if any */
		hwho[s] = 0;                                     /* ghost: read, so live no more */
		zpend[s] = 1;
		if
		:: w == HDR_PAD ->
			/* The header of a live pad: never an old lap's. */
			assert(g != 0);
			m = (g - 1) / 2;
			assert((g - 1) % 2 == 1 && cpos[m] == rd);   /* the pad claimed here */
			assert(REC(mlen[m]) > SIZE - s);             /* only where its record did not fit */
			i = s;
			do
			:: i < SIZE ->
				INNER(i != s, i);                        /* no header inside the pad */
				held[i] = 1;
				i++
			:: else -> break
			od;
			rd = (rd + SIZE - s) % M                     /* skip to the data area's end */
		:: else ->
			assert(w >= HDR_VALID);
			lc = w - HDR_VALID;
			r = REC(lc);
			assert(s + r <= SIZE);                       /* in place: never split by the data area's end */
			/* The message as the consumer's user sees it: its payload
			 * names it (an empty one: the ghost). */
			if
			:: lc > 0 -> assert(data[s] != 0); m = (data[s] - 1) / 4
			:: else -> assert(g != 0); m = (g - 1) / 2
			fi;
			assert(mlen[m] == lc);                       /* a message of the header's length */
			i = 0;
			do
			:: i < r ->
				t = s + i;
				INNER(i != 0, t);                        /* no header inside the record */
				assert(i >= lc || data[t] == DATA(m, i));  /* what its producer wrote */
				held[t] = 1;
				i++
			:: else -> break
			od;
			assert(delivered[m] == 0);                   /* exactly once */
			delivered[m] = 1;
			assert(m == FIRSTM(PROD(m)) + nextm[PROD(m)]); /* in each producer's order */
			nextm[PROD(m)]++;
			/* The header is the one its producer stored for this record,
			 * live: never an old lap's. */
			assert(g == 1 + 2 * m && crec[m] == rd);
			rd = (rd + r) % M
		fi;
		d = DIFF(tail, rd);
		assert(d >= 0);                                  /* inside what was claimed */
		z = s;
		d = 0; m = 0; g = 0; i = 0; t = 0; w = 0; s = 0; lc = 0; r = 0
	   };
#ifndef HEAD_BEFORE_ZERO
		atomic { zero_header(); z = 0 }                  /* store 0 into it (relaxed; Go: seq_cst) */
#else
		z = 0                                            /* the mutation: zeroed in Release */
#endif
	:: rd != head ->                                     /* Release */
		atomic {
			p = head;
			do
			:: p != rd ->                                /* ghost: the data handed out is back */
				held[p % SIZE] = 0;
				dwho[p % SIZE] = 0;
				p = (p + 1) % M
			:: else -> break
			od;
#ifdef HEAD_BEFORE_ZERO
			p = head;
#endif
			head = rd                                    /* store head (seq_cst) */
		};
#ifdef HEAD_BEFORE_ZERO
		atomic {                                         /* then zero the headers read in [old head, rd) */
			do
			:: p != rd ->
				z = p % SIZE;
				if
				:: zpend[z] -> zero_header()
				:: else
				fi;
				p = (p + 1) % M
			:: else -> break
			od;
			z = 0
		};
#endif
		p = 0;
		if
		:: waiters > 0 -> space()                        /* load waiters (seq_cst): fq_space */
		:: else
		fi;
#ifdef GO_WAITER
		if
		:: go_waiters > 0 -> room_appeared()             /* goWaiters: roomAppeared */
		:: else
		fi
#endif
	:: atomic { producers_done == NPROD && rd == tail && head == rd -> break }
	od;
	/* Every message delivered (all were claimed: the producers retry until they claim). */
	m = 0;
	do
	:: m < TOTAL ->
#if defined(GO_WAITER) && !defined(NO_TIMEOUT)
		assert(delivered[m] == 1 || m == 0);             /* the C waiter may have timed out */
#else
		assert(delivered[m] == 1);
#endif
		m++
	:: else -> break
	od
}

init {
	atomic {
		LENS;
		run consumer();
		run producer(0, 1);
		run producer(1, WAIT1)
#ifdef GO_WAITER
		; run producer(2, 1)
#endif
	}
}

#else /* LIVE */

/* PART 2. A claim as one step, after the load of reserve (a separate step
 * for the small producer, whose load may come before the waiter takes
 * the reservation; the waiter is the only one that takes it). PART 1
 * checks the claim's own interleavings; here no tail a producer loaded is
 * stale, and a depth is 0..SIZE even modulo M = 2 SIZE. */
inline live_claim() {
	atomic {
		pos = tail;
		q = SIZE - pos % SIZE;
		total = TOTAL_OF(rec, q);
		limit = LIMIT(rr, total);
		depth = DIFF(pos, head);
		if
		:: depth > limit -> efull = 1; pos = 0; total = 0
		:: else ->
			tail = NEXT_TAIL(pos, rec, total);
			recpos = (total == rec -> pos : (pos + q) % M);
			efull = 0
		fi;
		q = 0; limit = 0; depth = 0; rr = 0
	}
}

inline live_publish() {
	atomic {
		hdr[recpos % SIZE] = HDR_VALID + L;              /* the header; the pad's */
		if
		:: recpos != pos -> hdr[pos % SIZE] = HDR_PAD
		:: else
		fi;
		pos = 0; recpos = 0; total = 0
	}
}

/* waiter: fq_post_wait of LW payload words, for ever. Progress: a claim. */
proctype waiter() {
	byte id = 0, L = LW, rec = REC(LW), R = RESERVATION(REC(LW)), pos, recpos, total, q, rr;
	short limit, depth;
	bit wait = 1, holder, reserved, efull, inround;
	do
	:: atomic { holder = 0; rr = reserve };              /* begin_post */
		live_claim();
		if
		:: !efull -> goto claimed
		:: else
		fi;
	round:                                               /* wait_room */
		atomic { waiters++; bumped[id] = 0; inround = 1 };
		atomic { holder = reserved; rr = reserve };
		live_claim();
		if
		:: efull && !reserved ->
			atomic { reserve == 0 -> reserve = R; reserved = 1; holder = 1 };  /* fq_reserve: nobody else takes it */
			live_claim()
		:: else
		fi;
		if
		:: efull ->
			(bumped[id]);                                /* fq_wait32 */
			atomic { holder = reserved; rr = reserve };
			live_claim();
			if
			:: efull -> waiters--; goto round
			:: else
			fi
		:: else
		fi;
	claimed:
	progress:
		atomic {                                         /* leave_waiters; fq_unreserve */
			if
			:: inround -> waiters--; inround = 0
			:: else
			fi;
			if
			:: reserved -> reserve = 0; reserved = 0; holder = 0; bumped[0] = 1; bumped[1] = 1
			:: else
			fi
		};
		live_publish()
	od
}

/* small: fq_post of LS payload words, for ever, posting again at once
 * while refused. */
proctype small() {
	byte id = 1, L = LS, rec = REC(LS), pos, recpos, total, q, rr;
	short limit, depth;
	bit wait = 0, holder = 0, efull;
	do
	:: rr = reserve;                                     /* reserved_for_others */
		live_claim();
		if
		:: !efull -> live_publish()
		:: else
		fi
	od
}

proctype consumer() {
	byte rd = START, w;
	do
	:: atomic {                                          /* Next: read the header, store 0 into it */
		DIFF(rd, head) < SIZE && hdr[rd % SIZE] != 0 ->
		w = hdr[rd % SIZE];
		hdr[rd % SIZE] = 0;
		if
		:: w == HDR_PAD -> rd = (rd + SIZE - rd % SIZE) % M
		:: else -> rd = (rd + REC(w - HDR_VALID)) % M
		fi;
		assert(DIFF(tail, rd) >= 0);
		w = 0
	   }
	:: rd != head ->                                     /* Release: store head */
		head = rd;
		if
		:: waiters > 0 -> space()                        /* load waiters: fq_space */
		:: else
		fi
	od
}

init {
	atomic {
		run consumer();
		run waiter();
		run small()
	}
}
#endif
