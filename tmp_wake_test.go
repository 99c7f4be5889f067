package foreign

import (
	"sort"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
)

func TestTmpWakeCgoBlocked(t *testing.T) {
	for _, blocked := range []bool{false, true, false, true} {
		got := make(chan time.Time, 1)
		q, _ := NewQueue(func(int64) { got <- time.Now() }, Config{})
		done := make(chan struct{})
		if blocked {
			n, _ := NewInterrupt(nil, Config{})
			go func() { // a C thread keeping one vCPU busy: signals in a loop
				cthreads.TriggerThreads(uintptr(n.Token()), 1, 30_000_000, true)
				n.Close()
				close(done)
			}()
			time.Sleep(5 * time.Millisecond)
		} else {
			close(done)
		}
		var lat []time.Duration
		for i := 0; i < 300; i++ {
			time.Sleep(200 * time.Microsecond)
			for q.r.c.park.Load() != parkParked {
				time.Sleep(10 * time.Microsecond)
			}
			v := int64(i)
			t0 := time.Now()
			cthreads.Post(uintptr(q.Token()), unsafe.Pointer(&v), 8)
			lat = append(lat, (<-got).Sub(t0))
		}
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		t.Logf("busy C thread=%v: wake p50 %v p90 %v", blocked, lat[150], lat[270])
		q.Close()
		<-done
	}
}
