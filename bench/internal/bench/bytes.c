// bytes.c: the byte-string scenario's senders (package bench, bytes.go):
// how a C thread hands a byte string of any length to Go with this
// library's byte queue (foreign_post, foreign_postv), and the ways a C
// programmer would without it: an //export callback that copies the bytes
// (C.GoBytes, or into a pooled buffer) and sends them on a channel, a
// length-prefixed record written to a pipe, a record sent on an AF_UNIX
// SOCK_SEQPACKET socket; and the machine's limit, a plain memcpy into a
// buffer of the ring's size. See harness.h.

#define _GNU_SOURCE
#include "harness.h"

#include "foreign.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct bh_bdest {
	int how;          // BH_B_*
	uintptr_t target; // the token, the fd written to, or the Go sink's index
	size_t size;      // every message's length, its header included
	int producers;
	int wait;           // byte queue: wait for room when full (foreign_post*_wait)
	int lock;           // pipe: records over PIPE_BUF from several writers
	pthread_mutex_t mu; // held around such a record's write
	size_t ring;        // memcpy: the destination's size (the ring's)
	bh_bsender *senders;
};

struct bh_bsender {
	bh_bdest *d;
	uint32_t producer;
	unsigned char *msg; // size bytes: the header, then the payload
	unsigned char *dst; // memcpy: a buffer of ring bytes
	uint64_t pos;       // memcpy: where the next record goes
	uint64_t waits;     // byte queue: posts that found it full and waited
};

_Static_assert(sizeof(bh_bhdr) == BH_BHDR, "bh_bhdr must be BH_BHDR bytes");

static void *zalloc_aligned(size_t n) {
	void *p = NULL;
	if (posix_memalign(&p, 64, n > 0 ? n : 64) != 0)
		return NULL;
	memset(p, 0, n);
	return p;
}

bh_bdest *bh_bdest_new(int how, uintptr_t target, uint64_t size, int producers, uint64_t ring, int wait, int *err) {
	if (how < BH_B_POST || how > BH_B_MEMCPY || size < BH_BHDR || size > UINT32_MAX || producers <= 0 ||
	    (how == BH_B_MEMCPY && (ring < 2 * (size + 16) || (ring & (ring - 1)) != 0))) {
		*err = -EINVAL;
		return NULL;
	}
	bh_bdest *d = calloc(1, sizeof *d);
	if (d == NULL || (d->senders = calloc((size_t)producers, sizeof *d->senders)) == NULL) {
		free(d);
		*err = -ENOMEM;
		return NULL;
	}
	d->how = how;
	d->target = target;
	d->size = (size_t)size;
	d->producers = producers;
	d->ring = (size_t)ring;
	d->wait = wait;
	d->lock = how == BH_B_PIPE && producers > 1 && size + 8 > PIPE_BUF;
	pthread_mutex_init(&d->mu, NULL);
	for (int i = 0; i < producers; i++) {
		bh_bsender *s = &d->senders[i];
		s->d = d;
		s->producer = (uint32_t)i;
		// The payload: a pattern, so that a lost or misplaced byte shows.
		s->msg = zalloc_aligned(d->size);
		if (s->msg == NULL || (how == BH_B_MEMCPY && (s->dst = zalloc_aligned(d->ring)) == NULL)) {
			bh_bdest_free(d);
			*err = -ENOMEM;
			return NULL;
		}
		for (size_t j = BH_BHDR; j < d->size; j++)
			s->msg[j] = (unsigned char)(j * 7 + (size_t)i);
	}
	*err = 0;
	return d;
}

void bh_bdest_free(bh_bdest *d) {
	if (d == NULL)
		return;
	for (int i = 0; i < d->producers; i++) {
		free(d->senders[i].msg);
		free(d->senders[i].dst);
	}
	pthread_mutex_destroy(&d->mu);
	free(d->senders);
	free(d);
}

// write_all writes the iovecs in full: a blocking pipe takes a record over
// PIPE_BUF in parts when a signal interrupts the write.
static int write_all(int fd, struct iovec *iov, int cnt) {
	while (cnt > 0) {
		ssize_t n = writev(fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

// send_pipe writes [u64 length][message] with one writev. A write of at
// most PIPE_BUF bytes is atomic; a longer record from one of several
// producers is written under the mutex so that records never interleave.
static int send_pipe(bh_bdest *d, unsigned char *m) {
	uint64_t len = d->size;
	struct iovec iov[2] = {{&len, sizeof len}, {m, d->size}};
	if (!d->lock)
		return write_all((int)d->target, iov, 2);
	pthread_mutex_lock(&d->mu);
	int rc = write_all((int)d->target, iov, 2);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

// send_memcpy is the limit: the message copied into a buffer of the ring's
// size, laid out as the ring lays records (8-byte header, payload padded to
// 8, wrapping at the end), with nothing else done.
static int send_memcpy(bh_bsender *s, const unsigned char *m) {
	size_t n = s->d->size, ring = s->d->ring;
	uint64_t rec = 8 + ((n + 7) & ~(uint64_t)7);
	uint64_t off = s->pos & (ring - 1);
	if (ring - off < rec) {
		s->pos += ring - off;
		off = 0;
	}
	memcpy(s->dst + off + 8, m, n);
	*(uint64_t *)(void *)(s->dst + off) = n;
	s->pos += rec;
	return 0;
}

// The longest a full byte queue is waited for at a time: then the post
// returns FOREIGN_EFULL, and the throughput thread (harness.c) looks
// whether the run was aborted before it tries again.
#define BH_WAIT_NS 100000000

int bh_bsend(bh_bsender *s, uint64_t seq) {
	bh_bdest *d = s->d;
	size_t n = d->size;
	unsigned char *m = s->msg;
	bh_bhdr h = {seq, s->producer, (uint32_t)n};
	// The last byte changes with every message, so a consumer that checks
	// it sees the whole message arrive, not only its header.
	if (n > BH_BHDR)
		m[n - 1] = (unsigned char)seq;
	if (d->how == BH_B_POSTV) {
		// The header from the stack, the payload in place: one gather
		// list, no intermediate copy.
		struct foreign_iovec iov[2] = {{&h, sizeof h}, {m + BH_BHDR, n - BH_BHDR}};
		int rc = foreign_postv((foreign_token)d->target, iov, 2);
		if (rc == FOREIGN_EFULL && d->wait) {
			s->waits++;
			rc = foreign_postv_wait((foreign_token)d->target, iov, 2, BH_WAIT_NS);
		}
		return rc == FOREIGN_ETIMEDOUT ? FOREIGN_EFULL : rc;
	}
	memcpy(m, &h, sizeof h);
	switch (d->how) {
	case BH_B_POST: {
		int rc = foreign_post((foreign_token)d->target, m, n);
		if (rc == FOREIGN_EFULL && d->wait) {
			s->waits++;
			rc = foreign_post_wait((foreign_token)d->target, m, n, BH_WAIT_NS);
		}
		return rc == FOREIGN_ETIMEDOUT ? FOREIGN_EFULL : rc;
	}
	case BH_B_GOBYTES:
		bhGoBytes(d->target, m, n);
		return 0;
	case BH_B_POOL:
		bhGoPool(d->target, m, n);
		return 0;
	case BH_B_PIPE:
		return send_pipe(d, m);
	case BH_B_SEQPACKET: {
		ssize_t w;
		while ((w = send((int)d->target, m, n, MSG_NOSIGNAL)) < 0 && errno == EINTR)
			;
		return w == (ssize_t)n ? 0 : w < 0 ? -errno : -EMSGSIZE;
	}
	case BH_B_MEMCPY:
		return send_memcpy(s, m);
	}
	return -EINVAL;
}

// bh_call_bytes is the BH_BYTES kind's call for the prober and the
// throughput threads: target is a bh_bdest, m->producer picks the sender.
int bh_call_bytes(uintptr_t target, const bh_msg *m) {
	bh_bdest *d = (bh_bdest *)target;
	if (m->producer >= (uint32_t)d->producers)
		return -EINVAL;
	return bh_bsend(&d->senders[m->producer], m->seq);
}

uint64_t bh_bdest_waits(bh_bdest *d) {
	uint64_t n = 0;
	for (int i = 0; i < d->producers; i++)
		n += d->senders[i].waits;
	return n;
}

uint64_t bh_bdest_checksum(bh_bdest *d) {
	uint64_t sum = 0;
	for (int i = 0; i < d->producers; i++) {
		bh_bsender *s = &d->senders[i];
		if (s->dst != NULL)
			for (size_t j = 0; j < d->ring; j += 64)
				sum += s->dst[j];
		sum += s->pos;
	}
	return sum;
}
