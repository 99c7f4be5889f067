package foreign

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/foreigncall/foreign/internal/cthreads"
)

// Both producers — C threads through foreign_post (c/post.c) and
// goroutines through Post (post.go) — against every consumer: a handler
// on its own goroutine, a batch handler, a pull reader, a Loop. Every
// message arrives once, in order per producer.
func TestProducersEveryConsumer(t *testing.T) {
	const producers, perProducer = 2, 20_000
	consumers := map[string]func(see func(cthreads.Msg)) (*consumerUnderTest, error){
		"handler": func(see func(cthreads.Msg)) (*consumerUnderTest, error) {
			q, err := NewQueue(see, QueueConfig{Capacity: 256})
			if err != nil {
				return nil, err
			}
			return &consumerUnderTest{q.Token(), q.Post, func() { q.Close() }}, nil
		},
		"batch": func(see func(cthreads.Msg)) (*consumerUnderTest, error) {
			q, err := NewBatchQueue(func(ms []cthreads.Msg) {
				for _, m := range ms {
					see(m)
				}
			}, QueueConfig{Capacity: 256})
			if err != nil {
				return nil, err
			}
			return &consumerUnderTest{q.Token(), q.Post, func() { q.Close() }}, nil
		},
		"pull": func(see func(cthreads.Msg)) (*consumerUnderTest, error) {
			q, err := NewPullQueue[cthreads.Msg](PullConfig{Capacity: 256})
			if err != nil {
				return nil, err
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]cthreads.Msg, 64)
				for {
					n, err := q.RecvBatch(context.Background(), buf)
					if err != nil {
						return
					}
					for _, m := range buf[:n] {
						see(m)
					}
				}
			}()
			return &consumerUnderTest{q.Token(), q.Post, func() { q.Close(); <-done }}, nil
		},
		"loop": func(see func(cthreads.Msg)) (*consumerUnderTest, error) {
			l, err := NewLoop(LoopConfig{})
			if err != nil {
				return nil, err
			}
			q, err := NewQueue(see, QueueConfig{Loop: l, Capacity: 256})
			if err != nil {
				return nil, err
			}
			ran := make(chan error, 1)
			go func() { ran <- l.Run(context.Background()) }()
			return &consumerUnderTest{q.Token(), q.Post, func() { q.Close(); <-ran; l.Close() }}, nil
		},
	}
	for cname, open := range consumers {
		for _, pname := range []string{"C", "Go"} {
			t.Run(fmt.Sprintf("%s/%s", pname, cname), func(t *testing.T) {
				chk := newSeqChecker()
				c, err := open(chk.see)
				if err != nil {
					t.Fatal(err)
				}
				var accepted []uint64
				within(t, 60*time.Second, "producers", func() {
					if pname == "C" {
						accepted, _, err = cthreads.Start(uintptr(c.token), producers, 1, perProducer, false).Wait()
					} else {
						accepted = goProducers(c.post, producers, 1, perProducer)
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				within(t, 10*time.Second, "Close", c.close)
				chk.check(t, 1, accepted)
				if chk.n != producers*perProducer {
					t.Errorf("%d handled, want %d", chk.n, producers*perProducer)
				}
			})
		}
	}
}

type consumerUnderTest struct {
	token Token
	post  func(cthreads.Msg) error
	close func()
}

// goProducers runs n goroutines; goroutine i posts {firstID+i, 0..count-1}
// with post, retrying while the queue is full, and returns each one's count.
func goProducers(post func(cthreads.Msg) error, n int, firstID uint32, count uint64) []uint64 {
	accepted := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for seq := uint64(0); seq < count; {
				switch post(cthreads.Msg{Producer: firstID + uint32(i), Seq: seq}) {
				case nil:
					seq++
				case ErrFull:
					runtime.Gosched()
				default:
					return
				}
			}
			accepted[i] = count
		})
	}
	wg.Wait()
	return accepted
}
