// bytes.c: the publish step of a byte ring and its reservation for
// waiting posts; its claim is post.c's claim_room, with a pad. The protocol
// ("Byte rings", "Claim (bytes)", "Publish (bytes)", "Reservation") is in
// block.h; the Go side is bytes.go beside this directory. Async-signal-safe: no lock, no
// allocation, no system call but the consumer's wake-up.
#include "fq.h"

// fq_reserved_for_others is the room a reservation of generation tgen
// keeps from every post but its holder's (0: none, or another
// generation's).
FQ_FN uint64_t fq_reserved_for_others(fq_ctl *c, uint64_t tgen, int holder) {
	if (holder)
		return 0;
	uint64_t r = atomic_load_explicit(&c->reserve, memory_order_acquire);
	return fq_tail_gen(r) == tgen ? r & FQ_POS_MASK : 0;
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
