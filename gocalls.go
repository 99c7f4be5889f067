// gocalls.go: the Go callers of a function waiting for their results,
// shared by Func and BytesFunc.

package foreign

import "sync"

// goCalls are the Go callers of a function waiting for their results, by
// the id their call carries in the ring (goCallBit | id), and a pool of
// their waiting records so that a steady state allocates nothing. C must
// hold a buffered channel ch its consumer sends on once.
type goCalls[C any] struct {
	mu      sync.Mutex
	pending map[uint64]*C
	nextID  uint64
	pool    sync.Pool // *C
}

// get returns a waiting record from the pool, or a new one from make.
func (g *goCalls[C]) get(make func() *C) *C {
	if c, _ := g.pool.Get().(*C); c != nil {
		return c
	}
	return make()
}

// put gives a record back to the pool; its channel must be empty.
func (g *goCalls[C]) put(c *C) { g.pool.Put(c) }

// add registers a waiting caller and returns its id.
func (g *goCalls[C]) add(c *C) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending == nil {
		g.pending = map[uint64]*C{}
	}
	g.nextID++
	g.pending[g.nextID] = c
	return g.nextID
}

// take removes the caller with id and returns it, or nil if it is gone:
// the consumer answering it, or the caller itself giving up, whichever
// comes first, owns it.
func (g *goCalls[C]) take(id uint64) *C {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.pending[id]
	delete(g.pending, id)
	return c
}
