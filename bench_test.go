package foreign

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/foreigncall/foreign/internal/cthreads"
)

// Go-side posting against the obvious Go baseline, a buffered channel read
// by a goroutine, side by side.
func BenchmarkPostGo(b *testing.B) {
	for _, lat := range []bool{false, true} {
		name := "foreign"
		if lat {
			name = "foreign+latency" // the cost of QueueConfig.Latency
		}
		b.Run(name, func(b *testing.B) {
			var n atomic.Int64
			q, err := NewQueue(func(int64) { n.Add(1) }, QueueConfig{Capacity: 4096, Latency: lat})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				for q.Post(1) != nil {
				}
			}
			q.Close()
		})
	}
	b.Run("chan", func(b *testing.B) {
		ch := make(chan int64, 4096)
		var wg sync.WaitGroup
		wg.Go(func() {
			for range ch {
			}
		})
		b.ReportAllocs()
		for b.Loop() {
			ch <- 1
		}
		close(ch)
		wg.Wait()
	})
}

// Go-side posting of byte strings of a few sizes: the byte queue against
// a fixed-size Queue of the same size (the same ring, cells instead of
// records) and a channel of copies, side by side.
func BenchmarkPostBytesGo(b *testing.B) {
	for _, size := range []int{16, 256, 4096} {
		msg := make([]byte, size)
		b.Run(fmt.Sprintf("bytes/%d", size), func(b *testing.B) {
			var n atomic.Int64
			q, err := NewByteQueue(func(m []byte) { n.Add(int64(len(m))) }, ByteQueueConfig{Capacity: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				for q.Post(msg) != nil {
				}
			}
			q.Close()
		})
		b.Run(fmt.Sprintf("chan-copy/%d", size), func(b *testing.B) {
			ch := make(chan []byte, 4096)
			var wg sync.WaitGroup
			wg.Go(func() {
				for range ch {
				}
			})
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				ch <- append([]byte(nil), msg...)
			}
			close(ch)
			wg.Wait()
		})
	}
}

// Pending is one atomic load, for hot loops to poll.
func BenchmarkInterruptPending(b *testing.B) {
	i, err := NewInterrupt(nil, InterruptConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer i.Close()
	b.ReportAllocs()
	hits := 0
	for b.Loop() {
		if i.Pending() {
			hits++
		}
	}
	if hits != 0 {
		b.Fatal("pending")
	}
}

// Loop dispatch cost per event: posts spread over 1 and 1,000 queues on
// one Loop, against one queue with a goroutine of its own.
func BenchmarkLoopDispatch(b *testing.B) {
	for _, handles := range []int{1, 1000} {
		b.Run(map[int]string{1: "handles=1", 1000: "handles=1000"}[handles], func(b *testing.B) {
			l, err := NewLoop(LoopConfig{})
			if err != nil {
				b.Fatal(err)
			}
			var got atomic.Int64
			qs := make([]*Queue[int64], handles)
			for k := range qs {
				if qs[k], err = NewQueue(func(int64) { got.Add(1) }, QueueConfig{Loop: l, Capacity: 256}); err != nil {
					b.Fatal(err)
				}
			}
			done := make(chan error)
			go func() { done <- l.Run(context.Background()) }()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for qs[i%handles].Post(1) != nil {
				}
				i++
			}
			for got.Load() != int64(i) {
			}
			for _, q := range qs {
				q.Close()
			}
			<-done
			l.Close()
		})
	}
	b.Run("own-goroutine", func(b *testing.B) {
		var got atomic.Int64
		q, _ := NewQueue(func(int64) { got.Add(1) }, QueueConfig{Capacity: 256})
		b.ReportAllocs()
		for b.Loop() {
			for q.Post(1) != nil {
			}
		}
		q.Close()
	})
}

// Round trip of a Go call through a Func, against a channel request/reply
// to a goroutine.
func BenchmarkCallGo(b *testing.B) {
	b.Run("foreign", func(b *testing.B) {
		f, err := NewFunc(func(x int64) int64 { return x + 1 }, FuncConfig{})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Call(ctx, 1); err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
	})
	b.Run("chan", func(b *testing.B) {
		req, rep := make(chan int64), make(chan int64)
		go func() {
			for x := range req {
				rep <- x + 1
			}
		}()
		b.ReportAllocs()
		for b.Loop() {
			req <- 1
			<-rep
		}
		close(req)
	})
}

// The cost of a trigger, a signal and a post from a C thread, next to a
// direct //export call from the same kind of thread: per call, back to
// back, with the consumer running. b.N calls run on one new pthread.
func BenchmarkFromCThread(b *testing.B) {
	run := func(b *testing.B, tok Token, kind int) {
		b.ReportAllocs()
		ns := cthreads.CostNs(uintptr(tok), kind, uint64(b.N))
		b.ReportMetric(ns, "ns/call")
	}
	b.Run("export", func(b *testing.B) { run(b, 0, cthreads.CostExport) })
	b.Run("signal", func(b *testing.B) {
		i, _ := NewInterrupt(func(int) {}, InterruptConfig{})
		run(b, i.Token(), cthreads.CostSignal)
		i.Close()
	})
	b.Run("trigger", func(b *testing.B) {
		n, _ := NewNotifier(func() {}, NotifierConfig{Repeat: true})
		run(b, n.Token(), cthreads.CostTrigger)
		n.Close()
	})
	b.Run("post", func(b *testing.B) {
		q, _ := NewQueue(func(cthreads.Msg) {}, QueueConfig{Capacity: 4096})
		run(b, q.Token(), cthreads.CostPost)
		q.Close()
	})
	b.Run("post+latency", func(b *testing.B) { // the cost of QueueConfig.Latency: a stamp per post
		q, _ := NewQueue(func(cthreads.Msg) {}, QueueConfig{Capacity: 4096, Latency: true})
		run(b, q.Token(), cthreads.CostPost)
		q.Close()
	})
}
