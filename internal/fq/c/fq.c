// fq.c: the library's C as one translation unit. Each part's functions are
// static (fq.h), so the only symbols a program linking the library sees are
// the foreign_* functions of foreign.h. The Go package compiles this file
// through its cgo preamble (cgo.go); the C-only sanitizer tests include it
// whole.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "foreign.h"
#include "fq.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free to be async-signal-safe");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free to be async-signal-safe");
_Static_assert(sizeof(fq_ctl) == 6 * FQ_LINE, "control block layout");
_Static_assert(FQ_GEN_SHIFT + FQ_GEN_BITS == 64, "tail word layout");

#include "sys.c"
#include "table.c"
#include "wake.c"
#include "post.c"
#include "bytes.c"
#include "signal.c"
#include "refs.c"
#include "serve.c"
#include "call.c"
#include "errors.c"
#include "fork.c"
#include "layout.c"
