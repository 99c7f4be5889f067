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
// handler given to [NewQueue] (or [NewBatchQueue]), or a [Loop] that serves
// many handles on one goroutine. A [PullQueue] has no handler: Go code
// reads it with [PullQueue.Recv]. The consumer drains the ring in batches.
// When the ring is empty it spins briefly if messages have been coming
// close together, then parks. A consumer whose events come far apart
// parks on a futex in C, where a producer's wake-up reaches it as fast as
// one C thread wakes another; this holds an OS thread, and at most 64
// consumers in the process park that way at a time. For 100 ms after its
// last event such a consumer also keeps its P (at most GOMAXPROCS-1
// consumers do, so one P is always left to the rest of the program). The others park on an
// eventfd read through the runtime's network poller, which holds no
// thread but wakes more slowly. An idle handle costs no CPU either way.
//
// The other kinds share that machinery: a [Func] is a Go function C calls
// and waits for (foreign_call); a [Notifier] runs a function when triggered,
// carrying no data; an [Interrupt] is an async-signal-safe signal with a
// value (foreign_signal). Each kind has a config of its own ([QueueConfig],
// [PullConfig], [FuncConfig], [NotifierConfig], [InterruptConfig]) holding
// only what means something for it; a combination that cannot work (a Func
// with workers on a Loop, a nil handler) is refused by the constructor.
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
// — or in a Func, a Notifier's function, an Interrupt's handler, an
// OnClose hook — is recovered, counted in [Stats], reported to OnPanic (by
// default logged through log/slog), and delivery continues with the next
// message. No panic of a handler ends the process.
//
// Nothing blocks for ever: every blocking operation has a timeout (a
// context in Go), Close wakes every waiter, and an operation that would
// wait for the very thread it runs on fails at once with FOREIGN_EDEADLK
// ([ErrDeadlock]): a call into a Func from the Func itself, a call or a
// PostWait into a full queue from a handler of the same consumer (the same
// Loop included), a nested foreign_call from a signal handler that
// interrupted the same thread's call, and a nested call that would leave a
// Func's workers all waiting on each other.
//
// # Closing and releasing
//
// Close stops intake: posts, calls and triggers after it fail with
// FOREIGN_ECLOSED ([ErrClosed]). What was accepted before it is still
// delivered, and when Close returns the handler has run for the last time
// and OnClose has run — for every kind with a handler, on its own goroutine
// or on a Loop (a Loop that is not running is served by Close itself).
// Close called from inside a handler — of the handle itself or of any
// other, an OnClose hook, a Func's worker — returns at once instead of
// waiting, and the delivery finishes without it: waiting there could wait
// for its own thread, or for a consumer that waits for it (two handlers
// closing each other's handles). [PullQueue.Close]
// never waits: Recv returns what is left, then ErrClosed. A single-shot
// Notifier closes itself when it runs. [Loop.Close] closes every handle on
// the Loop in the same way.
//
// A post racing Close is either accepted and delivered or refused; it is
// never lost, and never touches freed memory: tokens name control blocks
// in a table that is never freed, tagged with a generation, so a token
// stays safe to use forever — a stale one is simply refused. The same
// holds for the Go values: once a handle is freed and its block serves
// another handle, every method of the old value is inert (Close and
// Release do nothing, Post and Trigger return ErrClosed, Pending and Take
// see nothing).
//
// C code counts its users of a handle with foreign_acquire and
// foreign_release; the Go side holds one reference of its own, which C can
// never drop (an unmatched foreign_release fails with FOREIGN_EINVAL).
// Release drops the Go reference without waiting; the last reference to go
// closes the handle as Close does, and OnClose then runs once it has
// delivered everything.
//
// # Calls and waiting posts
//
// A [Func] makes a Go function callable from C: foreign_call(token, &arg,
// sizeof arg, &ret, sizeof ret, timeout_ns) blocks the C thread until the
// function has run on Go's side and returned, the timeout passes
// (FOREIGN_ETIMEDOUT), the Func is closed (FOREIGN_ECLOSED) or the function
// panics (FOREIGN_EPANIC). A result that arrives after its caller gave up is
// dropped, never written into the caller's memory, and counted
// (Stats.LateResults). The caller spins for up to 20 µs, then sleeps on a
// futex.
//
// foreign_post_wait and [Queue.PostWait] wait while the queue is full, with
// a timeout (a context in Go). The consumer wakes every waiter when it makes
// room, and Close wakes them all with FOREIGN_ECLOSED, so no waiter sleeps
// through either. A C thread cancelled (pthread_cancel) or exiting while it
// waits in either leaves the handle as if it had timed out.
//
// # Messages
//
// The message type T must be plain data: booleans, numbers, and arrays and
// structs of them, at most 16 MiB (a ring holds Capacity of them: the
// default Capacity is smaller for large types, so that a default ring stays
// under 64 MiB). Pointers, strings, slices, maps,
// interfaces, channels and funcs are refused when the queue is made, because
// messages travel through memory the garbage collector does not scan. A C
// caller passes sizeof its struct, which must equal the size of T (lay out
// the Go struct to match the C one, padding included). A Queue[struct{}]
// counts posts: C posts with length 0 (the message may be NULL), and each
// post is one handler call.
//
// # Byte strings
//
// A ByteQueue (NewByteQueue, NewByteBatchQueue) or BytePullQueue carries
// byte strings of any length up to a maximum set when it is made (just
// under 1 GiB at most), through a ring bounded in bytes: C posts with foreign_post(t,
// buf, len), or foreign_postv to send a header and a payload without
// copying them together. A message longer than the maximum is refused with
// FOREIGN_EMSGSIZE (ErrMessageSize); one that does not fit now with
// FOREIGN_EFULL. Posting keeps every promise of a Queue: lock-free,
// allocation-free, async-signal-safe, exactly once, in order per producer.
// The handler receives each message in place in the ring, without a copy;
// a pull reader copies it into its own buffer (ReadInto). A BytesFunc is
// a function of byte strings: C calls it with foreign_callv, which takes a
// gather list as its argument and receives a result of any length into
// the caller's buffer, told how much was written.
//
// # Threads and signals
//
// foreign_post, foreign_postv, foreign_signal and foreign_release are
// async-signal-safe (foreign_call, foreign_callv, foreign_post_wait and
// foreign_postv_wait block, and are not): they may be
// called from a signal handler (installed with SA_ONSTACK, as Go requires
// of handlers that may run on Go threads), including one that interrupted
// a foreign_post on the same thread. They preserve errno. They work from
// any thread, including a thread created for one event and gone right
// after. In a child of fork() that inherited handles, every call of the C
// ABI fails at once with FOREIGN_ECLOSED (the consumers stayed in the
// parent), and nothing the child does reaches the parent.
//
// # Seeing inside
//
// Stats counts, per handle, what was posted, delivered and refused, and
// logs as a log/slog group. With runtime/trace on, every handler batch,
// call and signal handler runs in a region named for its kind, so that go
// tool trace shows delivery next to GC and scheduling. A config's Latency
// field records each message's wait (from its post, stamped by its
// producer, to its handler's start) and each handler's time in
// fixed-memory histograms (Latency, Histogram). Package metrics publishes
// all of it in the Prometheus text format and through expvar.
//
// # Limits
//
// Up to 65,536 handles are open at once. Capacity is at most 2^24
// messages. A control block whose 19-bit generation counter reaches its
// last value is retired rather than reused, so a generation never comes
// round again and a stale token can never name a live handle; that costs
// one block per 2^19 - 1 handles opened in it.
package foreign
