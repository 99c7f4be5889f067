// layout.c: every field of fq_ctl with its offset and size, so that the
// Go mirror (block.go) is checked against the C layout by one mechanism
// (layout_test.go) instead of a hand-kept list of constants.
#include "fq.h"

#define FIELD(f) {#f, offsetof(fq_ctl, f), sizeof(((fq_ctl *)0)->f)}

static const fq_field fields[] = {
	FIELD(tail),
	FIELD(head_cache),
	FIELD(reserve),
	FIELD(msgs),
	FIELD(bytes),
	FIELD(ring),
	FIELD(mask),
	FIELD(cell_size),
	FIELD(msg_size),
	FIELD(start),
	FIELD(wake_fd),
	FIELD(wake_kind),
	FIELD(kind),
	FIELD(call_ret),
	FIELD(flags),
	FIELD(head),
	FIELD(high_water),
	FIELD(park),
	FIELD(scheduled),
	FIELD(loop_token),
	FIELD(handle_id),
	FIELD(sig),
	FIELD(sig_fd),
	FIELD(sig_wfd),
	FIELD(sig_inflight),
	FIELD(rejected_full),
	FIELD(rejected_closed),
	FIELD(wakeups),
	FIELD(read_fd),
	FIELD(timed_out),
	FIELD(call_arg),
	FIELD(workers),
	FIELD(nested),
	FIELD(space_seq),
	FIELD(waiters),
	FIELD(refs),
};

FQ_FN const fq_field *fq_layout(size_t *n) {
	*n = sizeof fields / sizeof fields[0];
	return fields;
}
