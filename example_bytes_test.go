package foreign_test

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/foreigncall/foreign"
)

func ExampleNewByteQueue() {
	var total int
	q, err := foreign.NewByteQueue(func(m []byte) {
		total += len(m) // m is the message in place: copy it to keep it
	}, foreign.ByteQueueConfig{MaxMessage: 64 << 10})
	if err != nil {
		panic(err)
	}
	// C calls foreign_post(token, buf, len), or foreign_postv with a header
	// and a payload. Go code can post too:
	q.Post([]byte("hello"))
	q.Post(make([]byte, 10000))
	q.Close()
	st := q.Stats()
	fmt.Println(total, st.Posted, st.DeliveredBytes)
	// Output: 10005 2 10005
}

func ExampleNewByteBatchQueue() {
	q, err := foreign.NewByteBatchQueue(func(ms [][]byte) {
		for _, m := range ms {
			fmt.Printf("%s ", m)
		}
	}, foreign.ByteQueueConfig{})
	if err != nil {
		panic(err)
	}
	q.Post([]byte("a"))
	q.Post([]byte("bc"))
	q.Close()
	fmt.Println()
	// Output: a bc
}

func ExampleBytePullQueue_ReadInto() {
	q, err := foreign.NewBytePullQueue(foreign.BytePullConfig{})
	if err != nil {
		panic(err)
	}
	q.Post([]byte("frame 1"))
	q.Post([]byte("frame 2"))
	q.Close()
	buf := make([]byte, 0, 4096) // reused: ReadInto allocates nothing once it is large enough
	for {
		m, err := q.ReadInto(context.Background(), buf)
		if err != nil {
			break
		}
		fmt.Println(string(m))
		buf = m
	}
	// Output:
	// frame 1
	// frame 2
}

func ExampleNewBytesFunc() {
	// A header (a little-endian count) and a payload: the payload, repeated.
	f, err := foreign.NewBytesFunc(func(arg, out []byte) []byte {
		n := binary.LittleEndian.Uint32(arg)
		for range n {
			out = append(out, arg[4:]...)
		}
		return out
	}, foreign.BytesFuncConfig{})
	if err != nil {
		panic(err)
	}
	defer f.Close()
	// C calls foreign_callv(token, iov, 2, ret, sizeof ret, &retlen, timeout_ns)
	// with the header and the payload as two parts. From Go:
	arg := binary.LittleEndian.AppendUint32(nil, 3)
	out, err := f.Call(context.Background(), append(arg, "ab"...), nil)
	fmt.Println(string(out), err)
	// Output: ababab <nil>
}
