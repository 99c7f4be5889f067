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

func ExamplePullQueue_Recv() {
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

func ExampleFromCode() {
	// rc is what foreign_post returned to C code, passed back to Go.
	rc := -3
	fmt.Println(foreign.FromCode(rc))
	// Output: foreign: queue full
}
