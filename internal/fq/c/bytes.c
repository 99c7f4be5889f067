// bytes.c: the claim and publish steps of a byte ring, and its
// reservation for waiting posts. The protocol ("Byte rings", "Claim
// (bytes)", "Publish (bytes)", "Reservation") is in block.h; the Go side
// is bytes.go beside this directory. Async-signal-safe: no lock, no
// allocation, no system call but the consumer's wake-up.
#include "fq.h"

// reserved_for_others is the room a reservation of generation tgen keeps
// from every post but its holder's (0: none, or another generation's).
static uint64_t reserved_for_others(fq_ctl *c, uint64_t tgen, int holder) {
	if (holder)
		return 0;
	uint64_t r = atomic_load_explicit(&c->reserve, memory_order_acquire);
	return fq_tail_gen(r) == tgen ? r & FQ_POS_MASK : 0;
}

FQ_FN int fq_claim_bytes(fq_ctl *c, uint64_t tgen, uint64_t tail, uint64_t len, uint64_t stamp, int count_full,
                         int fresh_head, int holder, fq_claim *out) {
	uint64_t rec = fq_rec_size(len) + stamp;
	for (;;) {
		uint64_t gen = fq_tail_gen(tail);
		if (gen != tgen)
			return fq_stale_code(tgen, gen);
		if (tail & FQ_CLOSED) {
			if (count_full)
				atomic_fetch_add_explicit(&c->rejected_closed, 1, memory_order_relaxed);
			return FOREIGN_ECLOSED;
		}
		uint64_t mask = atomic_load_explicit(&c->mask, memory_order_relaxed);
		uint64_t size = mask + 1;
		uint64_t pos = tail & FQ_POS_MASK;
		uint64_t to_end = size - (pos & mask);
		uint64_t total = rec <= to_end ? rec : to_end + rec; // a pad fills the end
		int64_t limit = (int64_t)(size - reserved_for_others(c, tgen, holder)) - (int64_t)total;
		uint64_t hc = fresh_head ? 0 : atomic_load_explicit(&c->head_cache, memory_order_acquire);
		int64_t depth = (fresh_head || fq_tail_gen(hc) != tgen) ? (int64_t)size + 1 : fq_diff(pos, hc & FQ_POS_MASK);
		if (depth > limit) {
			// The cache says no room; ask the consumer (as claim_cell does).
			uint64_t head = atomic_load_explicit(&c->head, memory_order_seq_cst);
			depth = fq_diff(pos, head);
			if (depth > limit) {
				if (count_full)
					atomic_fetch_add_explicit(&c->rejected_full, 1, memory_order_relaxed);
				return FOREIGN_EFULL;
			}
			atomic_store_explicit(&c->head_cache, (tgen << FQ_GEN_SHIFT) | head, memory_order_release);
		}
		if (depth < 0) { // our tail is older than the consumer's head
			tail = atomic_load_explicit(&c->tail, memory_order_acquire);
			continue;
		}
		uint64_t next = (tail & ~FQ_POS_MASK) | ((pos + total) & FQ_POS_MASK);
		// seq_cst: one side of the park/wake Dekker pair (see block.h).
		if (atomic_compare_exchange_weak_explicit(&c->tail, &tail, next, memory_order_seq_cst,
		                                          memory_order_acquire)) {
			*out = (fq_claim){.pos = pos, .mask = mask, .rec = total == rec ? pos : (pos + to_end) & FQ_POS_MASK,
			                  .bytes = 1};
			// Counted before the publish, so that Stats never shows a message
			// delivered and not yet posted.
			atomic_fetch_add_explicit(&c->msgs, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&c->bytes, len, memory_order_relaxed);
			return 0;
		}
	}
}

FQ_FN void fq_publish_bytes(fq_ctl *c, uint64_t gen, const fq_claim *cl, const fq_msg *m) {
	uintptr_t ring = atomic_load_explicit(&c->ring, memory_order_relaxed);
	unsigned char *dst = (unsigned char *)(ring + (uintptr_t)(cl->rec & cl->mask));
	if (cl->stamp) // see "Stamps"
		dst = fq_stamp(dst);
	gather(dst, m);
	// Each store passes a record to the consumer (block.h, "Publish (bytes)").
	atomic_store_explicit(fq_hdr(ring, cl->mask, cl->rec), FQ_HDR_VALID | (uint32_t)fq_msg_len(m),
	                      memory_order_release);
	if (cl->rec != cl->pos)
		atomic_store_explicit(fq_hdr(ring, cl->mask, cl->pos), FQ_HDR_PAD, memory_order_release);
	fq_notify(c, gen);
}

FQ_FN uint64_t fq_reserve(fq_ctl *c, uint64_t tgen, uint64_t len) {
	if (atomic_load_explicit(&c->cell_size, memory_order_relaxed) != 0)
		return 0; // a cell ring: every message the same size, none starves
	uint64_t size = atomic_load_explicit(&c->mask, memory_order_relaxed) + 1;
	uint64_t stamp = (atomic_load_explicit(&c->flags, memory_order_relaxed) & FQ_FLAG_STAMP) ? FQ_STAMP : 0;
	uint64_t need = 2 * (fq_rec_size(len) + stamp); // its record and a pad, at worst
	uint64_t want = tgen << FQ_GEN_SHIFT | (need < size ? need : size);
	uint64_t r = atomic_load_explicit(&c->reserve, memory_order_acquire);
	for (;;) {
		if (fq_tail_gen(r) == tgen && (r & FQ_POS_MASK) != 0)
			return 0; // another waiter holds it
		if (atomic_compare_exchange_weak_explicit(&c->reserve, &r, want, memory_order_seq_cst,
		                                          memory_order_acquire))
			return want;
	}
}

FQ_FN void fq_unreserve(fq_ctl *c, uint64_t reserved) {
	if (reserved == 0)
		return;
	uint64_t r = reserved;
	if (atomic_compare_exchange_strong_explicit(&c->reserve, &r, reserved & ~FQ_POS_MASK, memory_order_seq_cst,
	                                            memory_order_relaxed)) {
		fq_space(c);                             // the C waiters may go on, and one may take it
		fq_notify(c, fq_tail_gen(reserved));     // and the consumer relays to the Go waiters
	}
}
