// Package foreign carries events from threads the Go runtime did not create
// — a C library's worker threads, audio and timer threads, threads made for
// one event, signal handlers — to Go, without those threads entering the Go
// runtime.
//
// # The model
//
// A [Queue] is a bounded ring of fixed-size messages in C memory. C code
// posts with foreign_post (declared in foreign.h) using the queue's [Token];
// Go code posts with [Queue.Post]. Either way the post copies the message
// into the ring and returns: it takes no lock, allocates nothing, never
// blocks, and never calls into the Go runtime. It makes a system call only
// to wake a consumer that has parked, once per burst. A full queue is an
// error (FOREIGN_EFULL, [ErrFull]) and is counted, never a silent loss.
//
// Each queue has one consumer: a goroutine of its own that calls the
// handler given to [NewQueue] (or [NewBatchQueue]), or, for a queue made
// without a handler, whoever calls [Queue.Recv]. The consumer drains the
// ring in batches. When the ring is empty it spins for a few tens of
// microseconds, then parks on the runtime's network poller (an eventfd), so
// an idle queue holds no OS thread.
//
// # Guarantees
//
// A message that a post accepted (return 0, nil error) is delivered exactly
// once. Messages from one thread (or one goroutine) are delivered in the
// order it posted them; messages from different threads interleave. A Post
// happens before the delivery of its message: Go data written before Post
// may be read by the handler (the race detector knows this too).
//
// The handler runs on one goroutine, so calls never overlap. A panic in it
// is recovered, counted in [Stats], reported to Config.OnPanic (by default
// logged through log/slog), and delivery continues with the next message.
//
// [Queue.Close] stops intake and, when it returns, every message accepted
// before it has been handled and the handler will not be called again.
// Posts after Close fail with FOREIGN_ECLOSED ([ErrClosed]). A post racing
// Close is either accepted and delivered or refused; it is never lost, and
// never touches freed memory: tokens name control blocks in a table that is
// never freed, tagged with a generation, so a token stays safe to use
// forever — a stale one is simply refused.
//
// # Calls and waiting posts
//
// A [Func] makes a Go function callable from C: foreign_call(token, &arg,
// sizeof arg, &ret, sizeof ret, timeout_ns) blocks the C thread until the
// function has run on Go's side and returned, the timeout passes
// (FOREIGN_ETIMEDOUT), the Func is closed (FOREIGN_ECLOSED) or the function
// panics (FOREIGN_EPANIC). A result that arrives after its caller gave up is
// dropped, never written into the caller's memory, and counted
// (Stats.LateResults). A call made from the very thread that runs the
// function (the function called into C, which called back) fails at once
// with FOREIGN_EDEADLK ([ErrDeadlock] from [Func.Call]) instead of waiting
// for itself. The caller spins for up to 20 µs, then sleeps on a futex.
//
// foreign_post_wait and [Queue.PostWait] wait while the queue is full, with
// a timeout (a context in Go). The consumer wakes every waiter when it makes
// room, and Close wakes them all with FOREIGN_ECLOSED, so no waiter sleeps
// through either.
//
// # Messages
//
// The message type T must be plain data: booleans, numbers, and arrays and
// structs of them, at most 64 KiB. Pointers, strings, slices, maps,
// interfaces, channels and funcs are refused when the queue is made, because
// messages travel through memory the garbage collector does not scan. A C
// caller passes sizeof its struct, which must equal the size of T (lay out
// the Go struct to match the C one, padding included).
//
// # Threads and signals
//
// foreign_post is async-signal-safe (foreign_call and foreign_post_wait
// block, and are not): it may be called from a signal handler
// (installed with SA_ONSTACK, as Go requires of handlers that may run on Go
// threads), including one that interrupted a foreign_post on the same
// thread. It preserves errno. It works from any thread, including a thread
// created for one event and gone right after.
//
// # Limits
//
// Up to 65,536 queues are open at once. Capacity is at most 2^24 messages.
// The control block of a closed queue is reused for a new one; its
// generation counter has 19 bits, so a token that was stale 2^19 reuses ago
// of the same block would be mistaken for a live one. Blocks are reused
// oldest first, which puts that out of practical reach.
package foreign
