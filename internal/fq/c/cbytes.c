// cbytes.c: the consumer of a byte ring written in C, for the C sanitizer
// tests and the fast-path count (purity.c); never part of the library's own
// build. It follows block.h ("Consume (bytes)") as the Go consumer does
// (bytes.go: Next, then Release), and parks through cconsumer.c.
//
// Unlike the Go consumer it distrusts what it reads: everything the
// protocol promises about a record that the header alone does not prove
// (the length, a pad only where a record could not fit, no header word
// inside a record, a record inside the claimed range, a stamp where the
// handle keeps them) is checked, and a record that breaks a promise is
// reported, not handed out. The tests would otherwise see only the
// payload, and a producer storing a stray header, or a consumer zeroing
// too few, would go unseen.
#ifndef FQ_CBYTES_C
#define FQ_CBYTES_C

#include <string.h>

#include "cconsumer.c"
#include "fq.h"

enum { FQ_C_CORRUPT = -2 }; // fq_c_next: a record broke the protocol (see why)

typedef struct {
	fq_ctl *c;
	unsigned char *ring;
	uint64_t mask;       // ring bytes - 1
	uint64_t max;        // the longest payload (a call's header included)
	uint64_t stamp_size; // FQ_STAMP if records carry stamps (block.h, "Stamps"), else 0
	int64_t stamp;       // the stamp of the record fq_c_next handed out last
	uint64_t rd;         // the next record to read
	uint64_t head;       // released up to here: our copy of c->head
	// Set with FQ_C_CORRUPT: what was wrong, where, and the header word.
	const char *why;
	uint64_t bad_pos, bad_word;
} fq_c_bytes;

static __attribute__((unused)) void fq_c_bytes_init(fq_c_bytes *b, fq_ctl *c) {
	memset(b, 0, sizeof *b);
	b->c = c;
	b->ring = (unsigned char *)atomic_load_explicit(&c->ring, memory_order_relaxed);
	b->mask = atomic_load_explicit(&c->mask, memory_order_relaxed);
	b->max = atomic_load_explicit(&c->msg_size, memory_order_relaxed);
	b->stamp_size = (atomic_load_explicit(&c->flags, memory_order_relaxed) & FQ_FLAG_STAMP) ? FQ_STAMP : 0;
	b->rd = b->head = atomic_load_explicit(&c->head, memory_order_relaxed);
}

static int fq_c_corrupt(fq_c_bytes *b, const char *why, uint64_t word) {
	b->why = why;
	b->bad_pos = b->rd;
	b->bad_word = word;
	return FQ_C_CORRUPT;
}

// fq_c_inner_zero reports whether the header words of the positions
// inside the n bytes from pos, after the first, are all 0: nothing but a
// record's start has a header (block.h, "Byte rings").
static int fq_c_inner_zero(fq_c_bytes *b, uint64_t pos, uint64_t n) {
	for (uint64_t o = 8; o < n; o += 8)
		if (atomic_load_explicit(fq_hdr((uintptr_t)b->ring, b->mask, pos + o), memory_order_relaxed) != 0)
			return 0;
	return 1;
}

// fq_c_next hands out the payload of the next record, in place in the ring,
// where it stays until fq_c_release, and its stamp in b->stamp (0 if the
// handle keeps none): 1, or 0 if the record at the cursor is not published
// yet, -1 once the ring is closed and every claimed record has been read,
// FQ_C_CORRUPT if a record broke the protocol.
static __attribute__((unused)) int fq_c_next(fq_c_bytes *b, const unsigned char **payload, size_t *len) {
	uint64_t size = b->mask + 1;
	for (;;) {
		// A whole ring read and not released: nothing more until the release.
		int64_t ahead = fq_diff(b->rd, b->head);
		if (ahead == (int64_t)size)
			return 0;
		if (ahead > (int64_t)size || ahead < 0)
			return fq_c_corrupt(b, "the read cursor is more than a ring ahead of head", 0);
		unsigned char *rec = b->ring + (b->rd & b->mask);
		_Atomic uint32_t *hw = fq_hdr((uintptr_t)b->ring, b->mask, b->rd);
		// Pairs with the producer's release store of the header (block.h,
		// "Publish (bytes)"): the stamp and payload it wrote before are
		// visible after it.
		uint32_t w = atomic_load_explicit(hw, memory_order_acquire);
		if (w == 0) {
			uint64_t t = atomic_load_explicit(&b->c->tail, memory_order_acquire);
			return (t & FQ_CLOSED) && (t & FQ_POS_MASK) == b->rd ? -1 : 0;
		}
		if (w != FQ_HDR_PAD && (w & ~FQ_HDR_LEN) != FQ_HDR_VALID)
			return fq_c_corrupt(b, "a header word that is neither a record's nor a pad's", w);
		// Zero before head passes it (block.h, "Consume (bytes)").
		atomic_store_explicit(hw, 0, memory_order_relaxed);
		uint64_t to_end = size - (b->rd & b->mask);
		// The producer claimed up to the record's end (and a pad with it)
		// before it published: the tail we load now is at least there.
		int64_t claimed = fq_diff(atomic_load_explicit(&b->c->tail, memory_order_relaxed) & FQ_POS_MASK, b->rd);
		if (w == FQ_HDR_PAD) {
			// A pad is only there because the next record did not fit.
			if (to_end >= fq_rec_size(b->max) + b->stamp_size)
				return fq_c_corrupt(b, "a pad where the longest record would fit", w);
			if (claimed < (int64_t)to_end)
				return fq_c_corrupt(b, "a pad beyond the tail", w);
			if (!fq_c_inner_zero(b, b->rd, to_end))
				return fq_c_corrupt(b, "a header inside a pad", w);
			b->rd = (b->rd + to_end) & FQ_POS_MASK;
			continue;
		}
		uint32_t n = w & FQ_HDR_LEN;
		uint64_t rs = fq_rec_size(n) + b->stamp_size;
		if (n > b->max)
			return fq_c_corrupt(b, "a record longer than the ring's maximum", w);
		if (rs > to_end)
			return fq_c_corrupt(b, "a record split by the ring's end", w);
		if (claimed < (int64_t)rs)
			return fq_c_corrupt(b, "a record beyond the tail", w);
		if (!fq_c_inner_zero(b, b->rd, rs))
			return fq_c_corrupt(b, "a header inside a record", w);
		b->stamp = 0;
		if (b->stamp_size != 0) {
			memcpy(&b->stamp, rec, sizeof b->stamp);
			if (b->stamp <= 0)
				return fq_c_corrupt(b, "a record of a stamped ring without its stamp", w);
		}
		*payload = rec + b->stamp_size;
		*len = n;
		b->rd = (b->rd + rs) & FQ_POS_MASK;
		return 1;
	}
}

// fq_c_release passes every record read back to the producers, as the Go
// consumer's Release does: store head (fq_c_next zeroed their headers),
// then wake waiters.
static __attribute__((unused)) void fq_c_release(fq_c_bytes *b) {
	if (b->rd == b->head)
		return;
	uint64_t n = (uint64_t)fq_diff(b->rd, b->head);
	if (n > atomic_load_explicit(&b->c->high_water, memory_order_relaxed))
		atomic_store_explicit(&b->c->high_water, n, memory_order_relaxed);
	b->head = b->rd;
	// seq_cst, then the load of waiters: the consumer's side of the waiting
	// Dekker pair (block.h, "Waiting for room"); see fq_c_recv.
	atomic_store_explicit(&b->c->head, b->head, memory_order_seq_cst);
	if (atomic_load_explicit(&b->c->waiters, memory_order_seq_cst) != 0)
		fq_space(b->c);
}

// fq_c_bytes_park releases what was read, then parks as fq_c_park does:
// a consumer that parked holding records would find tail != head and
// never sleep.
static __attribute__((unused)) int fq_c_bytes_park(fq_c_bytes *b) {
	fq_c_release(b);
	return fq_c_park(b->c);
}

#endif // FQ_CBYTES_C
