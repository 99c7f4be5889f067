// errors.c: foreign_strerror, the text of each return code of foreign.h.
#include "fq.h"

FOREIGN_EXPORT const char *foreign_strerror(int code) {
	switch (code) {
	case 0: return "success";
	case FOREIGN_EINVAL: return "invalid argument";
	case FOREIGN_ECLOSED: return "closed";
	case FOREIGN_EFULL: return "queue full";
	case FOREIGN_ETIMEDOUT: return "timed out";
	case FOREIGN_EDEADLK: return "would deadlock";
	case FOREIGN_EPANIC: return "handler panicked";
	case FOREIGN_EMSGSIZE: return "message too long";
	}
	return "unknown error";
}
