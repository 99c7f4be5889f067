// bytes.c: the harness's byte producers, which post messages of varied
// lengths with foreign_post, foreign_postv and foreign_postv_wait.
#define _GNU_SOURCE
#include "bytes.h"
#include "foreign.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t x) {
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

size_t ct_bytes_len(uint32_t producer, uint64_t seq, size_t min, size_t max) {
	if (min < sizeof(ct_bytes_hdr))
		min = sizeof(ct_bytes_hdr);
	if (max <= min)
		return min;
	return min + (size_t)(mix((uint64_t)producer << 40 ^ seq) % (max - min + 1));
}

void ct_bytes_fill(unsigned char *p, size_t n, uint32_t producer, uint64_t seq) {
	uint64_t x = mix(seq * 31 + producer);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(x + i * 7);
}

typedef struct {
	uintptr_t token;
	uint32_t id;
	uint64_t count, accepted;
	size_t min, max;
	int how, bad;
	pthread_t th;
} ct_bthread;

struct ct_bytes {
	int n;
	ct_bthread t[];
};

static void *bytes_main(void *arg) {
	ct_bthread *t = arg;
	unsigned char *buf = malloc(t->max + sizeof(ct_bytes_hdr));
	if (buf == NULL) {
		t->bad = -100;
		return NULL;
	}
	for (uint64_t seq = 0; seq < t->count;) {
		size_t len = ct_bytes_len(t->id, seq, t->min, t->max);
		ct_bytes_hdr h = {t->id, (uint32_t)len, seq};
		memcpy(buf, &h, sizeof h);
		ct_bytes_fill(buf + sizeof h, len - sizeof h, t->id, seq);
		int how = t->how == CT_BYTES_MIXED ? (int)(seq % 3) : t->how;
		struct foreign_iovec iov[2] = {{buf, sizeof h}, {buf + sizeof h, len - sizeof h}};
		int rc;
		switch (how) {
		case CT_BYTES_POST:
			rc = foreign_post(t->token, buf, len);
			break;
		case CT_BYTES_POSTV:
			rc = foreign_postv(t->token, iov, 2);
			break;
		default:
			rc = foreign_postv_wait(t->token, iov, 2, -1);
			break;
		}
		if (rc == 0) {
			seq++;
			t->accepted++;
		} else if (rc == FOREIGN_EFULL) {
			sched_yield();
		} else {
			t->bad = rc;
			break;
		}
	}
	free(buf);
	return NULL;
}

ct_bytes *ct_bytes_start(uintptr_t token, int n, uint32_t first_id, uint64_t count, size_t min, size_t max, int how) {
	ct_bytes *b = calloc(1, sizeof *b + (size_t)n * sizeof(ct_bthread));
	if (b == NULL)
		return NULL;
	b->n = n;
	for (int i = 0; i < n; i++) {
		ct_bthread *t = &b->t[i];
		*t = (ct_bthread){.token = token, .id = first_id + (uint32_t)i, .count = count, .min = min, .max = max,
		                  .how = how};
		pthread_create(&t->th, NULL, bytes_main, t);
	}
	return b;
}

int ct_bytes_join(ct_bytes *b, uint64_t *accepted, int *bad) {
	*bad = 0;
	for (int i = 0; i < b->n; i++) {
		pthread_join(b->t[i].th, NULL);
		accepted[i] = b->t[i].accepted;
		if (b->t[i].bad != 0 && *bad == 0)
			*bad = b->t[i].bad;
	}
	free(b);
	return *bad == 0 ? 0 : -1;
}

int ct_postv(uintptr_t token, const void *const *bases, const size_t *lens, int n) {
	struct foreign_iovec iov[8];
	if (n > 8)
		return foreign_postv(token, NULL, n); // the library's own refusal
	for (int i = 0; i < n; i++)
		iov[i] = (struct foreign_iovec){bases[i], lens[i]};
	return foreign_postv(token, iov, n);
}

int ct_postv_wait(uintptr_t token, const void *const *bases, const size_t *lens, int n, int64_t timeout_ns) {
	struct foreign_iovec iov[8];
	if (n > 8)
		return FOREIGN_EINVAL;
	for (int i = 0; i < n; i++)
		iov[i] = (struct foreign_iovec){bases[i], lens[i]};
	return foreign_postv_wait(token, iov, n, timeout_ns);
}

int ct_callv(uintptr_t token, const void *arg, size_t arglen, void *ret, size_t retcap, size_t *retlen,
             int64_t timeout_ns) {
	struct foreign_iovec iov = {arg, arglen};
	return foreign_callv(token, &iov, arg == NULL ? 0 : 1, ret, retcap, retlen, timeout_ns);
}

typedef struct {
	uintptr_t token;
	uint32_t id;
	uint64_t count, ok, short_ret;
	size_t max;
	int64_t timeout_ns;
	int bad;
	pthread_t th;
} ct_cthread;

// callers_main calls a function that answers with its argument twice:
// every fourth call with a buffer too small, which must get
// FOREIGN_EMSGSIZE and the length needed, and ret untouched.
static void *callers_main(void *arg) {
	ct_cthread *t = arg;
	unsigned char *a = malloc(t->max), *r = malloc(2 * t->max + 16);
	if (a == NULL || r == NULL) {
		t->bad = -100;
		goto out;
	}
	for (uint64_t seq = 0; seq < t->count; seq++) {
		size_t len = ct_bytes_len(t->id, seq, 16, t->max);
		ct_bytes_hdr h = {t->id, (uint32_t)len, seq};
		memcpy(a, &h, sizeof h);
		ct_bytes_fill(a + sizeof h, len - sizeof h, t->id, seq);
		int small = seq % 4 == 3;
		size_t cap = small ? 2 * len - 1 : 2 * len + 16, got = 0;
		memset(r, 0xEE, 2 * t->max + 16);
		// The argument as a header and a payload: a gather list.
		struct foreign_iovec iov[2] = {{a, sizeof h}, {a + sizeof h, len - sizeof h}};
		int rc = foreign_callv(t->token, iov, 2, r, cap, &got, t->timeout_ns);
		if (small) {
			if (rc != FOREIGN_EMSGSIZE || got != 2 * len || r[0] != 0xEE) {
				t->bad = rc != 0 ? rc : -101;
				break;
			}
			t->short_ret++;
			continue;
		}
		if (rc != 0) {
			t->bad = rc;
			break;
		}
		if (got != 2 * len || memcmp(r, a, len) != 0 || memcmp(r + len, a, len) != 0 || r[2 * len] != 0xEE) {
			t->bad = -102;
			break;
		}
		t->ok++;
	}
out:
	free(a);
	free(r);
	return NULL;
}

int ct_callv_threads(uintptr_t token, int n, uint64_t count, size_t max, int64_t timeout_ns, uint64_t *ok,
                     uint64_t *short_ret) {
	ct_cthread *ts = calloc((size_t)n, sizeof *ts);
	if (ts == NULL)
		return -100;
	for (int i = 0; i < n; i++) {
		ts[i] = (ct_cthread){.token = token, .id = (uint32_t)i + 1, .count = count, .max = max,
		                     .timeout_ns = timeout_ns};
		pthread_create(&ts[i].th, NULL, callers_main, &ts[i]);
	}
	int bad = 0;
	*ok = *short_ret = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(ts[i].th, NULL);
		*ok += ts[i].ok;
		*short_ret += ts[i].short_ret;
		if (ts[i].bad != 0 && bad == 0)
			bad = ts[i].bad;
	}
	free(ts);
	return bad;
}
