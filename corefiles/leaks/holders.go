package main

import (
	"sync"
	"time"
)

// Mutex is the truth about one mutex of the holders case: who holds it,
// from which function, who only keeps a pointer to it, who waits.
type Mutex struct {
	Shape      string  `json:"shape"`
	Kind       string  `json:"kind"` // mutex | rwmutex
	Addr       string  `json:"addr"`
	Name       string  `json:"name"`  // the Go expression: main.gConfigMu, l.mu, ...
	State      string  `json:"state"` // locked | rlocked | unlocked
	Holder     int64   `json:"holder_goid"`
	HolderFunc string  `json:"holder_func,omitempty"` // the frame between Lock and Unlock
	Readers    []int64 `json:"reader_goids"`
	ReaderFunc string  `json:"reader_func,omitempty"`
	Bystanders []int64 `json:"bystander_goids"` // keep a pointer to it (or its struct), never locked it
	Waiters    []int64 `json:"waiter_goids"`    // in Lock
	RWaiters   []int64 `json:"rwaiter_goids"`   // in RLock
	// Decidable is false where a core may not show the holder (the Lock
	// was in a function that returned): "unknown" is then a right answer,
	// naming another goroutine is not.
	Decidable bool   `json:"decidable"`
	Note      string `json:"note,omitempty"`
}

// holdPark is where holders park: a global channel, so they (and what their
// stacks hold) stay reachable, blocked rather than leaked.
var holdPark = make(chan struct{})

var gHoldSend = make(chan int)

var gConfigMu sync.Mutex

var gHoldCond *sync.Cond

type ledger struct {
	id    int
	name  string
	mu    sync.Mutex
	total int64
}

type registry struct {
	sync.Mutex
	names map[string]int
}

type table struct {
	name string
	rw   sync.RWMutex
	rows map[string]int
}

type server struct {
	name  string
	mu    sync.Mutex
	conns int
}

func ids(gs []*G) []int64 {
	out := []int64{}
	for _, g := range gs {
		out = append(out, g.Goid)
	}
	return out
}

func (b *builder) mutex(m *Mutex) *Mutex {
	for _, s := range []*[]int64{&m.Readers, &m.Bystanders, &m.Waiters, &m.RWaiters} {
		if *s == nil {
			*s = []int64{}
		}
	}
	b.acc.Mutexes = append(b.acc.Mutexes, m)
	return m
}

// holder starts one goroutine with fn and waits until it parked.
func (b *builder) holder(shape, waitFunc, reason string, expect string, fn func(r *reg)) *G {
	g := b.group(shape+"/holder", expect, waitFunc, "main.(*builder).holder", reason, "holds the mutex of shape "+shape, 1)
	go fn(g.r)
	return g.parked().gs[0]
}

// ledgerWaiters starts n goroutines in l.mu.Lock.
func (b *builder) ledgerWaiters(shape string, l *ledger, expect string) []int64 {
	g := b.group(shape+"/waiters", expect, "main.lockLedger", "main.(*builder).ledgerWaiters", reasonMutex(),
		"waits in Lock of the mutex of shape "+shape, b.n)
	g.with(Obj{Kind: "mutex", Addr: addr(&l.mu), Role: "lock"})
	for i := 0; i < b.n; i++ {
		go lockLedger(g.r, i, l)
	}
	return ids(g.parked().gs)
}

//go:noinline
func lockLedger(r *reg, i int, l *ledger) {
	r.done(i)
	l.mu.Lock()
	l.total++
	l.mu.Unlock()
}

//go:noinline
func startHolders(b *builder) {
	// 1. a struct field
	{
		l := &ledger{id: 1, name: "field"}
		h := b.holder("field", "main.holdField", "chan receive", Blocked, func(r *reg) { holdField(r, l) })
		b.mutex(&Mutex{Shape: "field", Kind: "mutex", Addr: addr(&l.mu), Name: "l.mu", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdField", Waiters: b.ledgerWaiters("field", l, Blocked), Decidable: true})
	}
	// 2. an embedded mutex
	{
		rg := &registry{names: map[string]int{}}
		h := b.holder("embedded", "main.holdEmbedded", "chan receive", Blocked, func(r *reg) { holdEmbedded(r, rg) })
		w := b.group("embedded/waiters", Blocked, "main.lockRegistry", "main.startHolders", reasonMutex(),
			"waits in Lock of the embedded mutex", b.n)
		for i := 0; i < b.n; i++ {
			go lockRegistry(w.r, i, rg)
		}
		b.mutex(&Mutex{Shape: "embedded", Kind: "mutex", Addr: addr(&rg.Mutex), Name: "rg.Mutex", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdEmbedded", Waiters: ids(w.parked().gs), Decidable: true})
	}
	// 3. a global
	{
		h := b.holder("global", "main.holdGlobal", "chan receive", Blocked, holdGlobal)
		w := b.group("global/waiters", Blocked, "main.lockGlobalConfig", "main.startHolders", reasonMutex(),
			"waits in Lock of main.gConfigMu", b.n)
		for i := 0; i < b.n; i++ {
			go lockGlobalConfig(w.r, i)
		}
		b.mutex(&Mutex{Shape: "global", Kind: "mutex", Addr: addr(&gConfigMu), Name: "main.gConfigMu", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdGlobal", Waiters: ids(w.parked().gs), Decidable: true})
	}
	// 4. locked, then the pointer passed down three calls; parked in the deepest
	{
		l := &ledger{id: 4, name: "deep"}
		h := b.holder("deep", "main.holdDeep3", "chan receive", Blocked, func(r *reg) { holdDeep1(r, l) })
		b.mutex(&Mutex{Shape: "deep", Kind: "mutex", Addr: addr(&l.mu), Name: "l.mu", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdDeep1", Waiters: b.ledgerWaiters("deep", l, Blocked), Decidable: true,
			Note: "holdDeep2 and holdDeep3 keep the pointer but never lock"})
	}
	// 5. defer Unlock
	{
		l := &ledger{id: 5, name: "defer"}
		h := b.holder("defer", "main.holdDefer", "chan receive", Blocked, func(r *reg) { holdDefer(r, l) })
		b.mutex(&Mutex{Shape: "defer", Kind: "mutex", Addr: addr(&l.mu), Name: "l.mu", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdDefer", Waiters: b.ledgerWaiters("defer", l, Blocked), Decidable: true})
	}
	// 6. held across a channel send
	{
		l := &ledger{id: 6, name: "send"}
		h := b.holder("across_send", "main.holdAcrossSend", "chan send", Blocked, func(r *reg) { holdAcrossSend(r, l) })
		b.mutex(&Mutex{Shape: "across_send", Kind: "mutex", Addr: addr(&l.mu), Name: "l.mu", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdAcrossSend", Waiters: b.ledgerWaiters("across_send", l, Blocked), Decidable: true})
	}
	// 7. held across Cond.Wait of another Cond (whose own mutex Wait released)
	{
		l := &ledger{id: 7, name: "cond"}
		other := &ledger{id: 70, name: "cond.L"}
		gHoldCond = sync.NewCond(&other.mu)
		h := b.holder("across_cond", "main.holdAcrossCond", "sync.Cond.Wait", Blocked, func(r *reg) { holdAcrossCond(r, l, gHoldCond) })
		b.mutex(&Mutex{Shape: "across_cond", Kind: "mutex", Addr: addr(&l.mu), Name: "l.mu", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdAcrossCond", Waiters: b.ledgerWaiters("across_cond", l, Blocked), Decidable: true})
		b.mutex(&Mutex{Shape: "across_cond/cond.L", Kind: "mutex", Addr: addr(&other.mu), Name: "main.gHoldCond.L", State: "unlocked",
			Decidable: true, Note: "Cond.Wait released it: nobody holds it, though the holder locked it and will again"})
	}
	// 8. RWMutex held by a writer; readers and another writer wait
	{
		t := &table{name: "writer", rows: map[string]int{}}
		h := b.holder("rw_writer", "main.holdRWWriter", "chan receive", Blocked, func(r *reg) { holdRWWriter(r, t) })
		rw := b.group("rw_writer/rwaiters", Blocked, "main.rlockTable", "main.startHolders", reasonRLock(),
			"waits in RLock behind the writer", b.n)
		for i := 0; i < b.n; i++ {
			go rlockTable(rw.r, i, t)
		}
		rw.parked()
		// A second writer queues on the RWMutex's inner Mutex (rw.w, at
		// offset 0): the runtime says sync.Mutex.Lock, not RWMutex.Lock.
		ww := b.group("rw_writer/waiters", Blocked, "main.lockTable", "main.startHolders", reasonMutex(),
			"waits in Lock behind the writer (on t.rw.w)", 1)
		go lockTable(ww.r, 0, t)
		ww.parked()
		b.mutex(&Mutex{Shape: "rw_writer", Kind: "rwmutex", Addr: addr(&t.rw), Name: "t.rw", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdRWWriter", Waiters: ids(ww.gs), RWaiters: ids(rw.gs), Decidable: true})
	}
	// 9. RWMutex held by readers; a writer waits, later readers queue behind it
	{
		t := &table{name: "readers", rows: map[string]int{}}
		rd := b.group("rw_readers/readers", Blocked, "main.holdRWReader", "main.startHolders", "chan receive",
			"holds a read lock", b.n)
		for i := 0; i < b.n; i++ {
			go holdRWReader(rd.r, i, t)
		}
		rd.parked()
		ww := b.group("rw_readers/waiters", Blocked, "main.lockTable", "main.startHolders", reasonWLock(),
			"waits in Lock for the readers", 1)
		go lockTable(ww.r, 0, t)
		ww.parked()
		waitStatus(ww.gs[0].Goid, "semacquire", "sync.RWMutex.Lock")
		rw := b.group("rw_readers/rwaiters", Blocked, "main.rlockTable", "main.startHolders", reasonRLock(),
			"waits in RLock behind the queued writer", b.n)
		for i := 0; i < b.n; i++ {
			go rlockTable(rw.r, i, t)
		}
		rw.parked()
		b.mutex(&Mutex{Shape: "rw_readers", Kind: "rwmutex", Addr: addr(&t.rw), Name: "t.rw", State: "rlocked",
			Readers: ids(rd.gs), ReaderFunc: "main.holdRWReader", Waiters: ids(ww.gs), RWaiters: ids(rw.gs), Decidable: true})
	}
	// 10. Lock in one function, Unlock in another
	{
		l := &ledger{id: 10, name: "split"}
		h := b.holder("split_funcs", "main.holdAcrossFuncs", "chan receive", Blocked, func(r *reg) { holdAcrossFuncs(r, l) })
		b.mutex(&Mutex{Shape: "split_funcs", Kind: "mutex", Addr: addr(&l.mu), Name: "l.mu", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdAcrossFuncs", Waiters: b.ledgerWaiters("split_funcs", l, Blocked),
			Decidable: false, Note: "main.acquire locked it and returned; main.release would unlock it"})
	}
	// 11. several goroutines keep the pointer, only one locked (issue 12's example)
	{
		s := &server{name: "srv"}
		b.main.keep = append(b.main.keep, s) // main keeps s too
		h := b.group("pointer_only_one_locked/holder", Blocked, "main.(*server).holdForever", "main.startHolders",
			"chan receive", "locked s.mu and parks", 1)
		go s.holdForever(h.r, holdPark)
		h.parked()
		by := b.group("pointer_only_one_locked/bystanders", Blocked, "main.(*server).watch", "main.startHolders",
			"chan receive", "keeps s, never locks s.mu", b.n)
		for i := 0; i < b.n; i++ {
			go s.watch(by.r, i)
		}
		by.parked()
		w := b.group("pointer_only_one_locked/waiters", Blocked, "main.(*server).lockServer", "main.startHolders",
			reasonMutex(), "waits in Lock of s.mu", 4)
		for i := 0; i < 4; i++ {
			go s.lockServer(w.r, i)
		}
		b.mutex(&Mutex{Shape: "pointer_only_one_locked", Kind: "mutex", Addr: addr(&s.mu), Name: "s.mu", State: "locked",
			Holder: h.gs[0].Goid, HolderFunc: "main.(*server).holdForever", Bystanders: append(ids(by.gs), b.acc.MainGoid),
			Waiters: ids(w.parked().gs), Decidable: true})
	}
	// 12. the holder returned without unlocking: nobody holds it
	{
		l := &ledger{id: 12, name: "exited"}
		done := make(chan struct{})
		go forgetUnlock(l, done)
		<-done
		b.mutex(&Mutex{Shape: "holder_exited", Kind: "mutex", Addr: addr(&l.mu), Name: "l.mu", State: "locked",
			Waiters: b.ledgerWaiters("holder_exited", l, Leaked), Decidable: true,
			Note: "main.forgetUnlock locked it and returned; its goroutine has exited: no goroutine holds it"})
	}
	// 13. TryLock
	{
		l := &ledger{id: 13, name: "trylock"}
		h := b.holder("trylock", "main.holdTryLock", "chan receive", Blocked, func(r *reg) { holdTryLock(r, l) })
		b.mutex(&Mutex{Shape: "trylock", Kind: "mutex", Addr: addr(&l.mu), Name: "l.mu", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdTryLock", Waiters: b.ledgerWaiters("trylock", l, Blocked), Decidable: true})
	}
	// 14. held while sleeping
	{
		l := &ledger{id: 14, name: "sleep"}
		h := b.holder("sleeping", "main.holdSleeping", "sleep", Blocked, func(r *reg) { holdSleeping(r, l) })
		b.mutex(&Mutex{Shape: "sleeping", Kind: "mutex", Addr: addr(&l.mu), Name: "l.mu", State: "locked",
			Holder: h.Goid, HolderFunc: "main.holdSleeping", Waiters: b.ledgerWaiters("sleeping", l, Blocked), Decidable: true})
	}
	// 15. holds one mutex while it waits for another
	{
		a := &ledger{id: 150, name: "a"}
		c := &ledger{id: 151, name: "c"}
		hc := b.holder("holds_one_waits_other/c", "main.holdField", "chan receive", Blocked, func(r *reg) { holdField(r, c) })
		ha := b.holder("holds_one_waits_other/a", "main.holdAWaitC", reasonMutex(), Blocked, func(r *reg) { holdAWaitC(r, a, c) })
		waitStatus(ha.Goid, "semacquire", "sync.Mutex.Lock")
		b.mutex(&Mutex{Shape: "holds_one_waits_other", Kind: "mutex", Addr: addr(&a.mu), Name: "a.mu", State: "locked",
			Holder: ha.Goid, HolderFunc: "main.holdAWaitC", Waiters: b.ledgerWaiters("holds_one_waits_other", a, Blocked), Decidable: true})
		b.mutex(&Mutex{Shape: "holds_one_waits_other/c", Kind: "mutex", Addr: addr(&c.mu), Name: "c.mu", State: "locked",
			Holder: hc.Goid, HolderFunc: "main.holdField", Waiters: []int64{ha.Goid}, Decidable: true})
	}
	// 16. a closure locks what it captured
	{
		l := &ledger{id: 16, name: "closure"}
		g := b.group("closure/holder", Blocked, "main.startHolders.func", "main.startHolders", "chan receive",
			"a closure locked the captured l.mu", 1)
		go func(r *reg) {
			l.mu.Lock()
			r.done(0)
			<-holdPark
			l.mu.Unlock()
		}(g.r)
		h := g.parked().gs[0]
		b.mutex(&Mutex{Shape: "closure", Kind: "mutex", Addr: addr(&l.mu), Name: "l.mu", State: "locked",
			Holder: h.Goid, HolderFunc: "main.startHolders.func", Waiters: b.ledgerWaiters("closure", l, Blocked), Decidable: true,
			Note: "holder_func is a prefix: the closure's name varies by version"})
	}
}

//go:noinline
func holdField(r *reg, l *ledger) {
	l.mu.Lock()
	r.done(0)
	<-holdPark
	l.mu.Unlock()
}

//go:noinline
func holdEmbedded(r *reg, g *registry) {
	g.Lock()
	r.done(0)
	<-holdPark
	g.Unlock()
}

//go:noinline
func lockRegistry(r *reg, i int, g *registry) {
	r.done(i)
	g.Lock()
	g.names["x"]++
	g.Unlock()
}

//go:noinline
func holdGlobal(r *reg) {
	gConfigMu.Lock()
	r.done(0)
	<-holdPark
	gConfigMu.Unlock()
}

//go:noinline
func lockGlobalConfig(r *reg, i int) {
	r.done(i)
	gConfigMu.Lock()
	gConfigMu.Unlock()
}

//go:noinline
func holdDeep1(r *reg, l *ledger) {
	l.mu.Lock()
	holdDeep2(r, l)
	l.mu.Unlock()
}

//go:noinline
func holdDeep2(r *reg, l *ledger) {
	holdDeep3(r, l)
	l.total++
}

//go:noinline
func holdDeep3(r *reg, l *ledger) {
	r.done(0)
	<-holdPark
	l.total++
}

//go:noinline
func holdDefer(r *reg, l *ledger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.done(0)
	<-holdPark
}

//go:noinline
func holdAcrossSend(r *reg, l *ledger) {
	l.mu.Lock()
	r.done(0)
	gHoldSend <- 1
	l.mu.Unlock()
}

//go:noinline
func holdAcrossCond(r *reg, l *ledger, c *sync.Cond) {
	l.mu.Lock()
	c.L.Lock()
	r.done(0)
	c.Wait()
	c.L.Unlock()
	l.mu.Unlock()
}

//go:noinline
func holdRWWriter(r *reg, t *table) {
	t.rw.Lock()
	r.done(0)
	<-holdPark
	t.rw.Unlock()
}

//go:noinline
func holdRWReader(r *reg, i int, t *table) {
	t.rw.RLock()
	r.done(i)
	<-holdPark
	t.rw.RUnlock()
}

//go:noinline
func rlockTable(r *reg, i int, t *table) {
	r.done(i)
	t.rw.RLock()
	_ = t.rows["x"]
	t.rw.RUnlock()
}

//go:noinline
func lockTable(r *reg, i int, t *table) {
	r.done(i)
	t.rw.Lock()
	t.rows["x"]++
	t.rw.Unlock()
}

//go:noinline
func acquire(l *ledger) { l.mu.Lock() }

//go:noinline
func release(l *ledger) { l.mu.Unlock() }

//go:noinline
func holdAcrossFuncs(r *reg, l *ledger) {
	acquire(l)
	r.done(0)
	<-holdPark
	release(l)
}

//go:noinline
func (s *server) holdForever(r *reg, park chan struct{}) {
	s.mu.Lock()
	r.done(0)
	<-park
	s.mu.Unlock()
}

//go:noinline
func (s *server) watch(r *reg, i int) {
	r.done(i)
	<-holdPark
	s.conns++
}

//go:noinline
func (s *server) lockServer(r *reg, i int) {
	r.done(i)
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
}

//go:noinline
func forgetUnlock(l *ledger, done chan struct{}) {
	l.mu.Lock()
	l.total++
	close(done)
}

//go:noinline
func holdTryLock(r *reg, l *ledger) {
	if !l.mu.TryLock() {
		fatalf("TryLock failed")
	}
	r.done(0)
	<-holdPark
	l.mu.Unlock()
}

//go:noinline
func holdSleeping(r *reg, l *ledger) {
	l.mu.Lock()
	r.done(0)
	for l.total >= 0 {
		time.Sleep(time.Hour)
	}
	l.mu.Unlock()
}

//go:noinline
func holdAWaitC(r *reg, a, c *ledger) {
	a.mu.Lock()
	r.done(0)
	c.mu.Lock()
	c.mu.Unlock()
	a.mu.Unlock()
}
