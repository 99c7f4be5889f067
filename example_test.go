package foreign_test

import (
	"context"
	"fmt"

	"github.com/foreigncall/foreign"
)

// Event is the message; a C library's callback would fill the same layout
// (struct { int32_t kind; int32_t pad; double value; }) and foreign_post it.
type Event struct {
	Kind  int32
	_     int32
	Value float64
}

func ExampleNewQueue() {
	var sum float64
	q, err := foreign.NewQueue(func(e Event) {
		sum += e.Value
	}, foreign.QueueConfig{Capacity: 256})
	if err != nil {
		panic(err)
	}
	// Hand q.Token() to C as user data; C calls
	// foreign_post(token, &event, sizeof event). Go code can post too:
	for i := range 4 {
		q.Post(Event{Kind: 1, Value: float64(i)})
	}
	q.Close() // returns after the four events were handled
	st := q.Stats()
	fmt.Println(sum, st.Posted, st.Delivered)
	// Output: 6 4 4
}

func ExampleNewPullQueue() {
	q, err := foreign.NewPullQueue[Event](foreign.PullConfig{}) // pull mode
	if err != nil {
		panic(err)
	}
	q.Post(Event{Kind: 7})
	q.Close()
	ctx := context.Background()
	for {
		e, err := q.Recv(ctx)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(e.Kind)
	}
	// Output:
	// 7
	// file already closed
}

func ExampleNewBatchQueue() {
	q, err := foreign.NewBatchQueue(func(batch []Event) {
		// Every event that was ready, at once; the slice is reused after.
		for _, e := range batch {
			_ = e
		}
	}, foreign.QueueConfig{Capacity: 1024})
	if err != nil {
		panic(err)
	}
	for range 10 {
		q.Post(Event{})
	}
	q.Close()
	fmt.Println(q.Stats().Delivered)
	// Output: 10
}

func ExampleNewFunc() {
	// C calls it with foreign_call(token, &arg, sizeof arg, &ret, sizeof
	// ret, timeout_ns) and waits for the result.
	f, err := foreign.NewFunc(func(x int64) int64 { return x * x }, foreign.FuncConfig{})
	if err != nil {
		panic(err)
	}
	defer f.Close()
	r, err := f.Call(context.Background(), 12)
	fmt.Println(r, err)
	// Output: 144 <nil>
}

func ExampleNewNotifier() {
	ran := make(chan struct{})
	// Single-shot: C triggers it with foreign_post(token, NULL, 0).
	n, err := foreign.NewNotifier(func() { close(ran) }, foreign.NotifierConfig{})
	if err != nil {
		panic(err)
	}
	defer n.Close() // safe even after it closed itself
	n.Trigger()
	<-ran
	n.Close()
	fmt.Println(n.Closed(), n.Trigger())
	// Output: true file already closed
}

func ExampleNewInterrupt() {
	// No handler: a hot loop polls Pending, or watches Context.
	i, err := foreign.NewInterrupt(nil, foreign.InterruptConfig{})
	if err != nil {
		panic(err)
	}
	defer i.Close()
	i.Signal(3) // C: foreign_signal(token, 3), even from a signal handler
	i.Signal(5) // the latest value wins
	fmt.Println(i.Pending())
	fmt.Println(i.Take())
	// Output:
	// true
	// 5 true
}

func ExampleNewLoop() {
	l, err := foreign.NewLoop(foreign.LoopConfig{})
	if err != nil {
		panic(err)
	}
	// Every handler of the Loop runs on the goroutine that calls Run (lock
	// it to the main thread for a GUI toolkit), one at a time.
	var total int
	q, _ := foreign.NewQueue(func(v int) { total += v }, foreign.QueueConfig{Loop: l})
	n, _ := foreign.NewNotifier(func() { total += 100 }, foreign.NotifierConfig{Loop: l})
	q.Post(1)
	q.Post(2)
	n.Trigger()
	// Run returns once no handle it serves is left open: close them from a
	// handler, or from another goroutine.
	go func() {
		q.Close() // returns once the Loop has delivered both posts
		n.Close()
	}()
	if err := l.Run(context.Background()); err != nil {
		panic(err)
	}
	l.Close()
	fmt.Println(total)
	// Output: 103
}

func ExampleFromCode() {
	// rc is what foreign_post returned to C code, passed back to Go.
	rc := -3
	fmt.Println(foreign.FromCode(rc))
	// Output: foreign: queue full
}
