package bench

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/foreigncall/foreign"
)

// IdleResult is what idle handles cost the process: CPU time and OS
// threads, against the same process before it opened them.
type IdleResult struct {
	Handles       int           // handles open and parked (a Loop's own counted as one)
	Window        time.Duration // how long each CPU measurement lasted
	BaseCPU       time.Duration // CPU time used in a window before any handle was open
	IdleCPU       time.Duration // CPU time used in a window with every handle parked
	BaseThreads   int           // the process's OS threads before
	ParkedThreads int           // and with every handle parked
}

// MeasureIdle opens queues, functions, notifiers, a pull queue with a
// reader waiting in Recv and a Loop with queues on it, has each deliver
// once (so that it parks as an idle handle of a real program does, after
// work), and measures the process's CPU time over window with all of them
// parked, against a window before they were opened.
func MeasureIdle(window time.Duration) (IdleResult, error) {
	res := IdleResult{Window: window}
	res.BaseThreads = threads()
	base, err := cpuTime()
	if err != nil {
		return res, err
	}
	time.Sleep(window)
	after, _ := cpuTime()
	res.BaseCPU = after - base

	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	var delivered sync.WaitGroup
	for range 8 {
		delivered.Add(1)
		q, err := foreign.NewQueue(func(int) { delivered.Done() }, foreign.QueueConfig{Name: "idle"})
		if err != nil {
			return res, err
		}
		closers = append(closers, q.Close)
		if err := q.Post(1); err != nil {
			return res, err
		}
	}
	for range 4 {
		f, err := foreign.NewFunc(func(x int) int { return x }, foreign.FuncConfig{Name: "idle"})
		if err != nil {
			return res, err
		}
		closers = append(closers, f.Close)
		if _, err := f.Call(context.Background(), 1); err != nil {
			return res, err
		}
	}
	for range 2 {
		delivered.Add(1)
		n, err := foreign.NewNotifier(func() { delivered.Done() }, foreign.NotifierConfig{Repeat: true, Name: "idle"})
		if err != nil {
			return res, err
		}
		closers = append(closers, n.Close)
		if err := n.Trigger(); err != nil {
			return res, err
		}
	}
	pq, err := foreign.NewPullQueue[int](foreign.PullConfig{})
	if err != nil {
		return res, err
	}
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		_, _ = pq.Recv(context.Background()) // until the close
	}()
	closers = append(closers, func() error { err := pq.Close(); <-recvDone; return err })
	l, err := foreign.NewLoop(foreign.LoopConfig{})
	if err != nil {
		return res, err
	}
	for range 4 {
		delivered.Add(1)
		q, err := foreign.NewQueue(func(int) { delivered.Done() }, foreign.QueueConfig{Name: "idle", Loop: l})
		if err != nil {
			return res, err
		}
		closers = append(closers, q.Close)
		if err := q.Post(1); err != nil {
			return res, err
		}
	}
	runDone := make(chan error, 1)
	go func() { runDone <- l.Run(context.Background()) }()
	closers = append(closers, func() error { err := l.Close(); return errors.Join(err, <-runDone) })
	res.Handles = 8 + 4 + 2 + 1 + 4 + 1

	delivered.Wait()
	// Past every spin, and past the 100 ms after its last event in which a
	// parked consumer still wakes every 9 ms to keep its P (fq's keepFor):
	// all parked for good.
	time.Sleep(300 * time.Millisecond)
	res.ParkedThreads = threads()
	base, err = cpuTime()
	if err != nil {
		return res, err
	}
	time.Sleep(window)
	after, _ = cpuTime()
	res.IdleCPU = after - base
	return res, nil
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// threads is the process's number of OS threads (0 where /proc is not).
func threads() int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	return len(ents)
}
