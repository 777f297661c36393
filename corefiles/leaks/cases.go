package main

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"time"
)

// Case is one row of TABLE (sorted by Name; corefiles/leaks/README.rst
// lists them). Pattern refers to LEAK_PATTERNS.md; Source says where the
// shape comes from.
type Case struct {
	Name    string
	Pattern string
	Source  string
	Desc    string
	Run     func(b *builder)
}

func (c Case) info() CaseInfo {
	return CaseInfo{Name: c.Name, Pattern: c.Pattern, Source: c.Source, Desc: c.Desc}
}

const (
	srcPatterns = "LEAK_PATTERNS.md"
	srcTu       = "Tu et al., Understanding Real-World Concurrency Bugs in Go (ASPLOS'19)"
	srcBlog     = "Go blog, Go Concurrency Patterns: Pipelines and cancellation"
	srcK8s      = "kubernetes finishRequest timeout leak (GoBench/GoKer kubernetes#5316 shape)"
	srcRWDoc    = "sync.RWMutex documentation: no recursive read locking"
	srcIssue    = "issue 12"
)

var TABLE = []Case{
	{"bug_double_lock", "4", srcTu, "self-deadlock: a method locks s.mu and calls a helper that locks it again", startDoubleLock},
	{"bug_early_return", "1", srcBlog, "a collector returns on the first error; the other unbuffered senders leak", startEarlyReturn},
	{"bug_lock_across_send", "14", srcTu, "G1 sends on an unbuffered channel holding mu; the receiver first waits for mu", startLockAcrossSend},
	{"bug_missed_close", "2,5", srcBlog, "fan-in: one worker returns early without Done; the closer waits forever, the consumer ranges forever", startMissedClose},
	{"bug_recursive_rlock", "4", srcRWDoc, "a reader takes RLock again while a writer is queued: reader and writer deadlock", startRecursiveRLock},
	{"bug_timeout_sender", "1", srcK8s, "a caller gives up on timeout; the worker sends its result on an unbuffered channel forever", startTimeoutSender},
	{"cond_no_signal", "-", srcPatterns, "N goroutines in Cond.Wait of a private Cond, the Broadcast came before they waited", startCondNoSignal},
	{"ctx_background_loop", "6", srcPatterns, "N monitors select on context.Background().Done() (nil) and time.After(1h) in a loop", startCtxBackgroundLoop},
	{"ctx_cancel_dropped", "6", srcIssue, "N monitors loop on time.After(1h) and ctx.Done() of a context whose cancel was dropped", startCtxCancelDropped},
	{"ctx_cancel_global", "6", srcIssue, "contrast: N waiters on ctx.Done() whose cancel is in a global (blocked, not lingering)", startCtxCancelGlobal},
	{"ctx_timeout", "6", srcIssue, "contrast: N waiters on ctx.Done() of a context with a 1h timeout (blocked)", startCtxTimeout},
	{"deadlock_chain", "14", srcPatterns, "G1 holds L1, waits M; G2 holds M, waits ch; G3 (only sender on ch) waits L1; all private", startDeadlockChain},
	{"global_mutex_holder_leaked", "4", srcIssue, "a global mutex whose holder leaked on a private channel; N waiters (no waker)", startGlobalMutexHolderLeaked},
	{"lock_order", "4", srcTu, "N pairs deadlocked by lock-order inversion (A then B / B then A)", startLockOrder},
	{"mutex_forgot_unlock", "4", srcPatterns, "a holder parks on a private channel with s.mu locked; N waiters", startMutexForgotUnlock},
	{"mutex_tiny", "4", srcPatterns, "as mutex_forgot_unlock with new(sync.Mutex): an 8-byte noscan object in a tiny block", startMutexTiny},
	{"nil_chan", "9", srcPatterns, "N senders and N receivers on nil channels", startNilChan},
	{"no_false_finalizer", "-", srcIssue, "N receivers on a channel only a finalizer's function holds (a GC root)", startNoFalseFinalizer},
	{"no_false_global_chan", "1", srcIssue, "N receivers on a channel in a package-level variable", startNoFalseGlobalChan},
	{"no_false_global_field", "1", srcIssue, "N receivers on a channel in a field of a struct a global points to", startNoFalseGlobalField},
	{"no_false_main_stack", "1", srcIssue, "N receivers on a channel main keeps in a local", startNoFalseMainStack},
	{"no_false_mutex_sleeper", "4", srcIssue, "N waiters on a mutex whose holder sleeps (and will unlock)", startNoFalseMutexSleeper},
	{"no_false_netpoll", "11", srcIssue, "N clients in conn.Read (IO wait) that will send on a channel N receivers wait on", startNoFalseNetpoll},
	{"no_false_select_one_live", "8", srcIssue, "N selects on two private channels and one global channel", startNoFalseSelectOneLive},
	{"no_false_sleep", "12", srcPatterns, "N goroutines in time.Sleep(1h) loops", startNoFalseSleep},
	{"no_false_stack_chan", "1", srcIssue, "N receivers on a channel a sleeping goroutine keeps and will send on", startNoFalseStackChan},
	{"no_false_timer", "1", srcIssue, "N receivers on a channel a time.AfterFunc(1h) closure will close", startNoFalseTimer},
	{"no_false_timer_chan", "7", srcPatterns, "N receivers on the channel of their own 1h time.Timer", startNoFalseTimerChan},
	{"no_false_wg_sleeper", "5", srcIssue, "N waiters on a WaitGroup a sleeping worker will call Done on", startNoFalseWGSleeper},
	{"no_waker_cache", "3", srcIssue, "a service (kept by main) whose cap-100 cache channel lost its consumer; 120 senders, 20 stay", startNoWakerCache},
	{"no_waker_rw_reader_leaked", "4", srcIssue, "a global RWMutex read-held by a reader that leaked; a writer and N later readers (no waker)", startNoWakerRWReaderLeaked},
	{"no_waker_wg_global", "5", srcIssue, "N waiters on a global WaitGroup, counter 2, no goroutine that could call Done", startNoWakerWGGlobal},
	{"range_not_closed", "2", srcPatterns, "N goroutines range over a channel whose producer returned without close", startRangeNotClosed},
	{"recv_local", "1", srcPatterns, "N receivers on an unbuffered channel only they hold", startRecvLocal},
	{"select_empty", "10", srcPatterns, "N goroutines in select {}", startSelectEmpty},
	{"select_no_exit", "8", srcPatterns, "N selects on three private channels, no default or timeout", startSelectNoExit},
	{"send_full_orphan", "3", srcPatterns, "N senders on a full cap-4 channel only they hold", startSendFullOrphan},
	{"ticker_abandoned", "7", srcPatterns, "N goroutines in `for range t.C` of a never-stopped 1h ticker", startTickerAbandoned},
	{"waitgroup_no_done", "5", srcPatterns, "N goroutines in Wait of a private WaitGroup, counter 3, nobody calls Done", startWaitGroupNoDone},
	{"holders", "4", srcIssue, "mutexes held in a dozen shapes, with their true holders (see holders.go)", startHolders},
}

func lookup(name string) *Case {
	for i := range TABLE {
		if TABLE[i].Name == name {
			return &TABLE[i]
		}
	}
	return nil
}

func init() {
	for i := 1; i < len(TABLE)-1; i++ {
		if TABLE[i-1].Name >= TABLE[i].Name {
			panic("TABLE must be sorted by name (holders last): " + TABLE[i].Name)
		}
	}
}

// ---------------------------------------------------------------- channels

//go:noinline
func startRecvLocal(b *builder) {
	ch := make(chan int)
	g := b.group("receivers", Leaked, "main.recvLocal", "main.startRecvLocal", "chan receive",
		"the channel is only on the receivers' stacks", b.n)
	g.with(Obj{Kind: "chan", Addr: addr(ch), Role: "recv"})
	for i := 0; i < b.n; i++ {
		go recvLocal(g.r, i, ch)
	}
	g.parked()
}

//go:noinline
func recvLocal(r *reg, i int, ch chan int) {
	r.done(i)
	<-ch
}

//go:noinline
func startRangeNotClosed(b *builder) {
	ch := make(chan string, 4)
	done := make(chan struct{})
	go produceNoClose(ch, done)
	<-done
	g := b.group("rangers", Leaked, "main.rangeForever", "main.startRangeNotClosed", "chan receive",
		"the producer returned without close; only the rangers hold the channel", b.n)
	g.with(Obj{Kind: "chan", Addr: addr(ch), Role: "recv"})
	for i := 0; i < b.n; i++ {
		go rangeForever(g.r, i, ch)
	}
	g.parked()
}

//go:noinline
func produceNoClose(ch chan string, done chan struct{}) {
	ch <- "a"
	ch <- "b"
	close(done)
}

//go:noinline
func rangeForever(r *reg, i int, ch chan string) {
	r.done(i)
	for v := range ch {
		_ = v
	}
}

type Item struct {
	Key   string
	Value []byte
}

//go:noinline
func startSendFullOrphan(b *builder) {
	ch := make(chan *Item, 4)
	for i := 0; i < 4; i++ {
		ch <- &Item{Key: "k"}
	}
	g := b.group("senders", Leaked, "main.sendFullOrphan", "main.startSendFullOrphan", "chan send",
		"the buffer is full and only the senders hold the channel", b.n)
	g.with(Obj{Kind: "chan", Addr: addr(ch), Role: "send", Extra: "4/4"})
	for i := 0; i < b.n; i++ {
		go sendFullOrphan(g.r, i, ch)
	}
	g.parked()
}

//go:noinline
func sendFullOrphan(r *reg, i int, ch chan *Item) {
	r.done(i)
	ch <- &Item{Key: "late"}
}

//go:noinline
func startNilChan(b *builder) {
	var ch chan int
	s := b.group("nil_senders", Leaked, "main.nilSend", "main.startNilChan", "chan send (nil chan)",
		"a send on a nil channel never proceeds", b.n)
	s.with(Obj{Kind: "chan", Addr: "0x0", Role: "send"})
	for i := 0; i < b.n; i++ {
		go nilSend(s.r, i, ch)
	}
	s.parked()
	rv := b.group("nil_receivers", Leaked, "main.nilRecv", "main.startNilChan", "chan receive (nil chan)",
		"a receive on a nil channel never proceeds", b.n)
	rv.with(Obj{Kind: "chan", Addr: "0x0", Role: "recv"})
	for i := 0; i < b.n; i++ {
		go nilRecv(rv.r, i, ch)
	}
	rv.parked()
}

//go:noinline
func nilSend(r *reg, i int, ch chan int) {
	r.done(i)
	ch <- 1
}

//go:noinline
func nilRecv(r *reg, i int, ch chan int) {
	r.done(i)
	<-ch
}

//go:noinline
func startSelectEmpty(b *builder) {
	g := b.group("select_empty", Leaked, "main.selectEmpty", "main.startSelectEmpty", "select (no cases)",
		"select {} never proceeds", b.n)
	for i := 0; i < b.n; i++ {
		go selectEmpty(g.r, i)
	}
	g.parked()
}

//go:noinline
func selectEmpty(r *reg, i int) {
	r.done(i)
	select {}
}

//go:noinline
func startSelectNoExit(b *builder) {
	g := b.group("selects", Leaked, "main.selectNoExit", "main.startSelectNoExit", "select",
		"every channel of the select is private to it", b.n)
	for i := 0; i < b.n; i++ {
		go selectNoExit(g.r, i)
	}
	g.parked()
}

//go:noinline
func selectNoExit(r *reg, i int) {
	a := make(chan int)
	e := make(chan error)
	out := make(chan []byte, 1)
	out <- nil
	r.done(i)
	select {
	case <-a:
	case <-e:
	case out <- []byte("x"):
	}
}

// ---------------------------------------------------------------- mutexes

type store struct {
	name string
	mu   sync.Mutex
	data map[string]int
}

//go:noinline
func startMutexForgotUnlock(b *builder) {
	s := &store{name: "orders", data: map[string]int{}}
	h := b.group("holder", Leaked, "main.holdStoreLocked", "main.startMutexForgotUnlock", "chan receive",
		"parked on a private channel with s.mu locked", 1)
	h.with(Obj{Kind: "mutex", Addr: addr(&s.mu), Role: "holds"})
	go holdStoreLocked(h.r, s)
	h.parked()
	w := b.group("waiters", Leaked, "main.lockStore", "main.startMutexForgotUnlock", reasonMutex(),
		"s is only on the stacks of leaked goroutines", b.n)
	w.with(Obj{Kind: "mutex", Addr: addr(&s.mu), Role: "lock"})
	for i := 0; i < b.n; i++ {
		go lockStore(w.r, i, s)
	}
	w.parked()
}

//go:noinline
func holdStoreLocked(r *reg, s *store) {
	s.mu.Lock()
	wake := make(chan struct{})
	r.done(0)
	<-wake
	s.mu.Unlock()
}

//go:noinline
func lockStore(r *reg, i int, s *store) {
	r.done(i)
	s.mu.Lock()
	s.data["x"]++
	s.mu.Unlock()
}

//go:noinline
func startMutexTiny(b *builder) {
	mu := new(sync.Mutex)
	h := b.group("holder", Leaked, "main.holdTinyLocked", "main.startMutexTiny", "chan receive",
		"parked on a private channel with the mutex locked", 1)
	h.with(Obj{Kind: "mutex", Addr: addr(mu), Role: "holds", Extra: "tiny block"})
	go holdTinyLocked(h.r, mu)
	h.parked()
	w := b.group("waiters", Leaked, "main.lockTiny", "main.startMutexTiny", reasonMutex(),
		"the mutex is only on the stacks of leaked goroutines (but shares a 16-byte tiny block)", b.n)
	w.with(Obj{Kind: "mutex", Addr: addr(mu), Role: "lock", Extra: "tiny block"})
	for i := 0; i < b.n; i++ {
		go lockTiny(w.r, i, mu)
	}
	w.parked()
}

//go:noinline
func holdTinyLocked(r *reg, mu *sync.Mutex) {
	mu.Lock()
	wake := make(chan struct{})
	r.done(0)
	<-wake
	mu.Unlock()
}

//go:noinline
func lockTiny(r *reg, i int, mu *sync.Mutex) {
	r.done(i)
	mu.Lock()
	mu.Unlock()
}

var gLeakMu sync.Mutex

//go:noinline
func startGlobalMutexHolderLeaked(b *builder) {
	h := b.group("holder", Leaked, "main.holdGlobalLeaked", "main.startGlobalMutexHolderLeaked", "chan receive",
		"parked on a private channel with main.gLeakMu locked", 1)
	h.with(Obj{Kind: "mutex", Addr: addr(&gLeakMu), Role: "holds", Via: "global main.gLeakMu"})
	go holdGlobalLeaked(h.r)
	h.parked()
	w := b.group("waiters", NoWaker, "main.lockGlobalLeaked", "main.startGlobalMutexHolderLeaked", reasonMutex(),
		"the mutex is a global (reachable), but its only holder is leaked: nobody will unlock it", b.n)
	w.with(Obj{Kind: "mutex", Addr: addr(&gLeakMu), Role: "lock", Via: "global main.gLeakMu"})
	for i := 0; i < b.n; i++ {
		go lockGlobalLeaked(w.r, i)
	}
	w.parked()
}

//go:noinline
func holdGlobalLeaked(r *reg) {
	gLeakMu.Lock()
	wake := make(chan struct{})
	r.done(0)
	<-wake
	gLeakMu.Unlock()
}

//go:noinline
func lockGlobalLeaked(r *reg, i int) {
	r.done(i)
	gLeakMu.Lock()
	gLeakMu.Unlock()
}

// A global RWMutex read-held by a goroutine that leaked on a private
// channel: the object is reachable (a global), so nothing is proven, but
// the writer waits for a reader that will never RUnlock, and the readers
// that came after the writer wait for the writer.
var gLeakRW sync.RWMutex

//go:noinline
func startNoWakerRWReaderLeaked(b *builder) {
	on := func(role string) Obj {
		return Obj{Kind: "rwmutex", Addr: addr(&gLeakRW), Role: role, Via: "global main.gLeakRW"}
	}
	const creator = "main.(*group).run" // the go statement is in run
	b.group("reader", Leaked, "main.holdRLockLeaked", creator, "chan receive",
		"parked on a private channel with main.gLeakRW read-locked", 1).run(on("rholds"), holdRLockLeaked)
	w := b.group("writer", NoWaker, "main.lockRWLeaked", creator, reasonWLock(),
		"waits in Lock for its one reader, which is leaked", 1).run(on("lock"), lockRWLeaked)
	waitStatus(w.gs[0].Goid, "semacquire", "sync.RWMutex.Lock")
	b.group("rwaiters", NoWaker, "main.rlockRWLeaked", creator, reasonRLock(),
		"waits in RLock behind the writer, which waits for the leaked reader", b.n).run(on("rlock"), rlockRWLeaked)
}

// run starts the group's goroutines, fn(r, i) each, waiting on obj, and
// waits until they parked.
func (g *group) run(obj Obj, fn func(r *reg, i int)) *group {
	g.with(obj)
	for i := range g.r.ids {
		go fn(g.r, i)
	}
	return g.parked()
}

//go:noinline
func holdRLockLeaked(r *reg, i int) {
	gLeakRW.RLock()
	wake := make(chan struct{})
	r.done(i)
	<-wake
	gLeakRW.RUnlock()
}

//go:noinline
func lockRWLeaked(r *reg, i int) {
	r.done(i)
	gLeakRW.Lock()
	gLeakRW.Unlock()
}

//go:noinline
func rlockRWLeaked(r *reg, i int) {
	r.done(i)
	gLeakRW.RLock()
	gLeakRW.RUnlock()
}

type acct struct {
	id  int
	mu  sync.Mutex
	bal int64
}

//go:noinline
func startLockOrder(b *builder) {
	ab := b.group("a_then_b", Leaked, "main.transferAB", "main.startLockOrder", reasonMutex(),
		"holds A, waits for B held by its partner; both only on the pair's stacks", b.n)
	ba := b.group("b_then_a", Leaked, "main.transferBA", "main.startLockOrder", reasonMutex(),
		"holds B, waits for A held by its partner", b.n)
	for i := 0; i < b.n; i++ {
		a, c := &acct{id: 2 * i}, &acct{id: 2*i + 1}
		bar := new(sync.WaitGroup)
		bar.Add(2)
		go transferAB(ab.r, i, a, c, bar)
		go transferBA(ba.r, i, a, c, bar)
	}
	ab.parked()
	ba.parked()
}

//go:noinline
func transferAB(r *reg, i int, a, b *acct, bar *sync.WaitGroup) {
	a.mu.Lock()
	bar.Done()
	bar.Wait()
	r.done(i)
	b.mu.Lock()
	a.bal--
	b.bal++
	b.mu.Unlock()
	a.mu.Unlock()
}

//go:noinline
func transferBA(r *reg, i int, a, b *acct, bar *sync.WaitGroup) {
	b.mu.Lock()
	bar.Done()
	bar.Wait()
	r.done(i)
	a.mu.Lock()
	b.bal--
	a.bal++
	a.mu.Unlock()
	b.mu.Unlock()
}

type chainState struct {
	l1 sync.Mutex
	m  sync.Mutex
	ch chan int
}

//go:noinline
func startDeadlockChain(b *builder) {
	s := &chainState{ch: make(chan int)}
	g2 := b.group("g2_holds_m_waits_ch", Leaked, "main.chainG2", "main.startDeadlockChain", "chan receive",
		"waits on ch, whose only sender waits for L1", 1)
	g2.with(Obj{Kind: "mutex", Addr: addr(&s.m), Role: "holds"}, Obj{Kind: "chan", Addr: addr(s.ch), Role: "recv"})
	go chainG2(g2.r, s)
	g2.parked()
	g1 := b.group("g1_holds_l1_waits_m", Leaked, "main.chainG1", "main.startDeadlockChain", reasonMutex(),
		"waits for M held by G2", 1)
	g1.with(Obj{Kind: "mutex", Addr: addr(&s.l1), Role: "holds"}, Obj{Kind: "mutex", Addr: addr(&s.m), Role: "lock"})
	locked := make(chan struct{})
	go chainG1(g1.r, s, locked)
	<-locked
	g1.parked()
	waitStatus(g1.gs[0].Goid, "semacquire", "sync.Mutex.Lock")
	g3 := b.group("g3_waits_l1", Leaked, "main.chainG3", "main.startDeadlockChain", reasonMutex(),
		"the only sender on ch, waits for L1 held by G1", 1)
	g3.with(Obj{Kind: "mutex", Addr: addr(&s.l1), Role: "lock"}, Obj{Kind: "chan", Addr: addr(s.ch), Role: "would send"})
	go chainG3(g3.r, s)
	g3.parked()
}

//go:noinline
func chainG2(r *reg, s *chainState) {
	s.m.Lock()
	r.done(0)
	<-s.ch
	s.m.Unlock()
}

//go:noinline
func chainG1(r *reg, s *chainState, locked chan struct{}) {
	s.l1.Lock()
	close(locked)
	r.done(0)
	s.m.Lock()
	s.m.Unlock()
	s.l1.Unlock()
}

//go:noinline
func chainG3(r *reg, s *chainState) {
	r.done(0)
	s.l1.Lock()
	s.ch <- 1
	s.l1.Unlock()
}

// ---------------------------------------------------------------- wait groups, conds

//go:noinline
func startWaitGroupNoDone(b *builder) {
	wg := new(sync.WaitGroup)
	wg.Add(3)
	g := b.group("waiters", Leaked, "main.waitNoDone", "main.startWaitGroupNoDone", reasonWaitGroup(),
		"the WaitGroup is only on the waiters' stacks", b.n)
	g.with(Obj{Kind: "waitgroup", Addr: addr(wg), Role: "wait", Extra: "counter 3"})
	for i := 0; i < b.n; i++ {
		go waitNoDone(g.r, i, wg)
	}
	g.parked()
}

//go:noinline
func waitNoDone(r *reg, i int, wg *sync.WaitGroup) {
	r.done(i)
	wg.Wait()
}

type jobQueue struct {
	mu    sync.Mutex
	cond  *sync.Cond
	ready bool
}

//go:noinline
func startCondNoSignal(b *builder) {
	q := &jobQueue{}
	q.cond = sync.NewCond(&q.mu)
	q.cond.Broadcast() // before anyone waits: lost
	g := b.group("waiters", Leaked, "main.condWaitLost", "main.startCondNoSignal", "sync.Cond.Wait",
		"the Cond is only on the waiters' stacks", b.n)
	g.with(Obj{Kind: "cond", Addr: addr(q.cond), Role: "wait"})
	for i := 0; i < b.n; i++ {
		go condWaitLost(g.r, i, q)
	}
	g.parked()
}

//go:noinline
func condWaitLost(r *reg, i int, q *jobQueue) {
	q.mu.Lock()
	r.done(i)
	for !q.ready {
		q.cond.Wait()
	}
	q.mu.Unlock()
}

// ---------------------------------------------------------------- bugs from real projects

type service struct {
	name string
	mu   sync.Mutex
	n    int
}

//go:noinline
func startDoubleLock(b *builder) {
	g := b.group("relocker", Leaked, "main.(*service).helperLocks", "main.startDoubleLock", reasonMutex(),
		"waits for a mutex it holds itself; the service is only on its stack", b.n)
	for i := 0; i < b.n; i++ {
		s := &service{name: "svc"}
		go s.update(g.r, i)
	}
	g.parked()
}

//go:noinline
func (s *service) update(r *reg, i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.done(i)
	s.helperLocks()
}

//go:noinline
func (s *service) helperLocks() {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
}

type result struct {
	v   int
	err error
}

//go:noinline
func startTimeoutSender(b *builder) {
	g := b.group("workers", Leaked, "main.finishWorker", "main.finishRequest", "chan send",
		"the caller gave up; the unbuffered result channel is only on the worker's stack", b.n)
	for i := 0; i < b.n; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the deadline passed
		if err := finishRequest(ctx, g.r, i); err == nil {
			fatalf("finishRequest: no timeout")
		}
	}
	g.parked()
}

// finishRequest runs fn in a goroutine and waits for it or the context.
//
//go:noinline
func finishRequest(ctx context.Context, r *reg, i int) error {
	ch := make(chan result)
	start := make(chan struct{})
	go finishWorker(r, i, ch, start)
	select {
	case res := <-ch:
		return res.err
	case <-ctx.Done():
		close(start) // only now does the worker produce its result
		return ctx.Err()
	}
}

//go:noinline
func finishWorker(r *reg, i int, ch chan result, start chan struct{}) {
	<-start
	r.done(i)
	ch <- result{v: i}
}

var errFirst = errors.New("first error")

//go:noinline
func startEarlyReturn(b *builder) {
	g := b.group("senders", Leaked, "main.fetchPart", "main.fetchAll", "chan send",
		"the collector returned on the first error; the channel is only on the senders' stacks", b.n+1)
	if err := fetchAll(g.r, b.n+1); err != errFirst {
		fatalf("fetchAll: %v", err)
	}
	g.parkedBut(1)
}

//go:noinline
func fetchAll(r *reg, n int) error {
	ch := make(chan error)
	for i := 0; i < n; i++ {
		go fetchPart(r, i, ch)
	}
	for i := 0; i < n; i++ {
		if err := <-ch; err != nil {
			return err // the others are never received
		}
	}
	return nil
}

//go:noinline
func fetchPart(r *reg, i int, ch chan error) {
	r.done(i)
	ch <- errFirst
	r.finish(i)
}

//go:noinline
func startMissedClose(b *builder) {
	closer := b.group("closer", Leaked, "main.mergeCloser", "main.merge", reasonWaitGroup(),
		"waits for a Done that the worker which returned early never called", 1)
	cons := b.group("consumer", Leaked, "main.consume", "main.startMissedClose", "chan receive",
		"ranges over the merged channel that is never closed", 1)
	out := merge(closer.r, b.n)
	go consume(cons.r, out)
	closer.parked()
	cons.parked()
}

// merge starts n workers writing to out and a closer that closes out when
// they are all done; worker 0 returns early (error path) without Done.
//
//go:noinline
func merge(r *reg, n int) chan int {
	out := make(chan int, n)
	wg := new(sync.WaitGroup)
	wg.Add(n)
	for i := 0; i < n; i++ {
		go mergeWorker(i, out, wg)
	}
	go mergeCloser(r, out, wg)
	return out
}

//go:noinline
func mergeWorker(i int, out chan int, wg *sync.WaitGroup) {
	if i == 0 {
		return // error path: forgot wg.Done()
	}
	out <- i
	wg.Done()
}

//go:noinline
func mergeCloser(r *reg, out chan int, wg *sync.WaitGroup) {
	r.done(0)
	wg.Wait()
	close(out)
}

//go:noinline
func consume(r *reg, out chan int) {
	r.done(0)
	for v := range out {
		_ = v
	}
}

type config struct {
	rw   sync.RWMutex
	vals map[string]string
}

//go:noinline
func startRecursiveRLock(b *builder) {
	c := &config{vals: map[string]string{}}
	rd := b.group("reader", Leaked, "main.(*config).getLocked", "main.startRecursiveRLock", reasonRLock(),
		"holds a read lock and asks for another behind a queued writer", 1)
	rd.with(Obj{Kind: "rwmutex", Addr: addr(&c.rw), Role: "rholds"}, Obj{Kind: "rwmutex", Addr: addr(&c.rw), Role: "rlock"})
	wr := b.group("writer", Leaked, "main.(*config).set", "main.startRecursiveRLock", reasonWLock(),
		"waits for the reader, which waits for it", 1)
	wr.with(Obj{Kind: "rwmutex", Addr: addr(&c.rw), Role: "lock"})
	step := make(chan struct{})
	locked := make(chan struct{})
	go c.get(rd.r, step, locked)
	<-locked
	go c.set(wr.r)
	wr.parked()
	waitStatus(wr.gs[0].Goid, "semacquire", "sync.RWMutex.Lock")
	close(step)
	rd.parked()
}

//go:noinline
func (c *config) get(r *reg, step, locked chan struct{}) {
	c.rw.RLock()
	defer c.rw.RUnlock()
	close(locked)
	<-step
	r.done(0)
	c.getLocked()
}

//go:noinline
func (c *config) getLocked() string {
	c.rw.RLock() // recursive read lock: blocks behind the queued writer
	defer c.rw.RUnlock()
	return c.vals["k"]
}

//go:noinline
func (c *config) set(r *reg) {
	r.done(0)
	c.rw.Lock()
	c.vals["k"] = "v"
	c.rw.Unlock()
}

type peer struct {
	mu  sync.Mutex
	out chan int
}

//go:noinline
func startLockAcrossSend(b *builder) {
	p := &peer{out: make(chan int)}
	s := b.group("sender_holding_mu", Leaked, "main.(*peer).publish", "main.startLockAcrossSend", "chan send",
		"sends on an unbuffered channel while holding mu; the receiver waits for mu", 1)
	s.with(Obj{Kind: "mutex", Addr: addr(&p.mu), Role: "holds"}, Obj{Kind: "chan", Addr: addr(p.out), Role: "send"})
	go p.publish(s.r)
	s.parked()
	rc := b.group("receiver_waits_mu", Leaked, "main.(*peer).drain", "main.startLockAcrossSend", reasonMutex(),
		"waits for mu before it would receive", 1)
	rc.with(Obj{Kind: "mutex", Addr: addr(&p.mu), Role: "lock"})
	go p.drain(rc.r)
	rc.parked()
}

//go:noinline
func (p *peer) publish(r *reg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r.done(0)
	p.out <- 1
}

//go:noinline
func (p *peer) drain(r *reg) {
	r.done(0)
	p.mu.Lock()
	v := <-p.out
	_ = v
	p.mu.Unlock()
}

// ---------------------------------------------------------------- no false leak

var gJobs = make(chan int)

//go:noinline
func startNoFalseGlobalChan(b *builder) {
	g := b.group("receivers", Blocked, "main.recvGlobal", "main.startNoFalseGlobalChan", "chan receive",
		"the channel is in a global: any live goroutine may send", b.n)
	g.with(Obj{Kind: "chan", Addr: addr(gJobs), Role: "recv", Via: "global main.gJobs"})
	for i := 0; i < b.n; i++ {
		go recvGlobal(g.r, i)
	}
	g.parked()
}

//go:noinline
func recvGlobal(r *reg, i int) {
	r.done(i)
	<-gJobs
}

type jobService struct {
	name string
	jobs chan *Item
}

var gService *jobService

//go:noinline
func startNoFalseGlobalField(b *builder) {
	gService = &jobService{name: "jobs", jobs: make(chan *Item)}
	g := b.group("receivers", Blocked, "main.(*jobService).serve", "main.startNoFalseGlobalField", "chan receive",
		"the channel is in main.gService.jobs", b.n)
	g.with(Obj{Kind: "chan", Addr: addr(gService.jobs), Role: "recv", Via: "global main.gService .jobs"})
	for i := 0; i < b.n; i++ {
		go gService.serve(g.r, i)
	}
	g.parked()
}

//go:noinline
func (s *jobService) serve(r *reg, i int) {
	r.done(i)
	for it := range s.jobs {
		_ = it
	}
}

//go:noinline
func startNoFalseMainStack(b *builder) {
	ch := make(chan int)
	b.main.keep = append(b.main.keep, ch)
	g := b.group("receivers", Blocked, "main.recvMainKeeps", "main.startNoFalseMainStack", "chan receive",
		"main keeps the channel in a live local", b.n)
	g.with(Obj{Kind: "chan", Addr: addr(ch), Role: "recv", Via: "main stack"})
	for i := 0; i < b.n; i++ {
		go recvMainKeeps(g.r, i, ch)
	}
	g.parked()
}

//go:noinline
func recvMainKeeps(r *reg, i int, ch chan int) {
	r.done(i)
	<-ch
}

//go:noinline
func startNoFalseStackChan(b *builder) {
	ch := make(chan int)
	o := b.group("owner", Blocked, "main.sleepThenSend", "main.startNoFalseStackChan", "sleep",
		"sleeps; will send on ch", 1)
	go sleepThenSend(o.r, ch)
	o.parked()
	g := b.group("receivers", Blocked, "main.recvFromSleeper", "main.startNoFalseStackChan", "chan receive",
		"a sleeping (runnable later) goroutine keeps the channel on its stack", b.n)
	g.with(Obj{Kind: "chan", Addr: addr(ch), Role: "recv", Via: "goroutine owner stack"})
	for i := 0; i < b.n; i++ {
		go recvFromSleeper(g.r, i, ch)
	}
	g.parked()
}

//go:noinline
func sleepThenSend(r *reg, ch chan int) {
	r.done(0)
	for {
		time.Sleep(time.Hour)
		ch <- 1
	}
}

//go:noinline
func recvFromSleeper(r *reg, i int, ch chan int) {
	r.done(i)
	<-ch
}

//go:noinline
func startNoFalseTimer(b *builder) {
	ch := make(chan int)
	time.AfterFunc(time.Hour, func() { close(ch) })
	g := b.group("receivers", Blocked, "main.recvTimerCloses", "main.startNoFalseTimer", "chan receive",
		"a pending timer's function holds the channel", b.n)
	g.with(Obj{Kind: "chan", Addr: addr(ch), Role: "recv", Via: "timer"})
	for i := 0; i < b.n; i++ {
		go recvTimerCloses(g.r, i, ch)
	}
	g.parked()
}

//go:noinline
func recvTimerCloses(r *reg, i int, ch chan int) {
	r.done(i)
	<-ch
}

//go:noinline
func startNoFalseTimerChan(b *builder) {
	g := b.group("receivers", Blocked, "main.recvOwnTimer", "main.startNoFalseTimerChan", "chan receive",
		"the timer will fire and send on its channel", b.n)
	for i := 0; i < b.n; i++ {
		go recvOwnTimer(g.r, i)
	}
	g.parked()
}

//go:noinline
func recvOwnTimer(r *reg, i int) {
	t := time.NewTimer(time.Hour)
	r.done(i)
	<-t.C
}

type finObj struct {
	name string
	buf  []byte
}

var gFinKeep []*finObj

//go:noinline
func startNoFalseFinalizer(b *builder) {
	ch := make(chan int)
	o := &finObj{name: "res"}
	runtime.SetFinalizer(o, func(*finObj) { close(ch) })
	gFinKeep = append(gFinKeep, o) // never finalized; its finalizer function is a GC root all the same
	g := b.group("receivers", Blocked, "main.recvFinalizerCloses", "main.startNoFalseFinalizer", "chan receive",
		"only a finalizer's function holds the channel; the runtime marks it as a root", b.n)
	g.with(Obj{Kind: "chan", Addr: addr(ch), Role: "recv", Via: "finalizer special"})
	for i := 0; i < b.n; i++ {
		go recvFinalizerCloses(g.r, i, ch)
	}
	g.parked()
}

//go:noinline
func recvFinalizerCloses(r *reg, i int, ch chan int) {
	r.done(i)
	<-ch
}

var gAlive = make(chan int)

//go:noinline
func startNoFalseSelectOneLive(b *builder) {
	g := b.group("selects", Blocked, "main.selectOneLive", "main.startNoFalseSelectOneLive", "select",
		"one of the select's channels is a global", b.n)
	for i := 0; i < b.n; i++ {
		go selectOneLive(g.r, i)
	}
	g.parked()
}

//go:noinline
func selectOneLive(r *reg, i int) {
	a := make(chan int)
	c := make(chan string)
	r.done(i)
	select {
	case <-a:
	case <-c:
	case <-gAlive:
	}
}

//go:noinline
func startNoFalseMutexSleeper(b *builder) {
	s := &store{name: "sessions", data: map[string]int{}}
	h := b.group("holder", Blocked, "main.holdWhileSleeping", "main.startNoFalseMutexSleeper", "sleep",
		"sleeps with s.mu locked; will unlock", 1)
	go holdWhileSleeping(h.r, s)
	h.parked()
	w := b.group("waiters", Blocked, "main.lockStoreSleeper", "main.startNoFalseMutexSleeper", reasonMutex(),
		"the holder can run again and unlock", b.n)
	w.with(Obj{Kind: "mutex", Addr: addr(&s.mu), Role: "lock", Via: "goroutine holder stack"})
	for i := 0; i < b.n; i++ {
		go lockStoreSleeper(w.r, i, s)
	}
	w.parked()
}

//go:noinline
func holdWhileSleeping(r *reg, s *store) {
	s.mu.Lock()
	r.done(0)
	for s.data["stop"] == 0 {
		time.Sleep(time.Hour)
	}
	s.mu.Unlock()
}

//go:noinline
func lockStoreSleeper(r *reg, i int, s *store) {
	r.done(i)
	s.mu.Lock()
	s.mu.Unlock()
}

//go:noinline
func startNoFalseWGSleeper(b *builder) {
	wg := new(sync.WaitGroup)
	wg.Add(1)
	wk := b.group("worker", Blocked, "main.sleepThenDone", "main.startNoFalseWGSleeper", "sleep",
		"will call Done after its sleep", 1)
	go sleepThenDone(wk.r, wg)
	wk.parked()
	g := b.group("waiters", Blocked, "main.waitForSleeper", "main.startNoFalseWGSleeper", reasonWaitGroup(),
		"a sleeping worker keeps the WaitGroup and will call Done", b.n)
	g.with(Obj{Kind: "waitgroup", Addr: addr(wg), Role: "wait", Via: "goroutine worker stack"})
	for i := 0; i < b.n; i++ {
		go waitForSleeper(g.r, i, wg)
	}
	g.parked()
}

//go:noinline
func sleepThenDone(r *reg, wg *sync.WaitGroup) {
	r.done(0)
	time.Sleep(time.Hour)
	wg.Done()
}

//go:noinline
func waitForSleeper(r *reg, i int, wg *sync.WaitGroup) {
	r.done(i)
	wg.Wait()
}

//go:noinline
func startNoFalseSleep(b *builder) {
	g := b.group("sleepers", Blocked, "main.sleepHour", "main.startNoFalseSleep", "sleep",
		"a sleep always ends", b.n)
	for i := 0; i < b.n; i++ {
		go sleepHour(g.r, i)
	}
	g.parked()
}

//go:noinline
func sleepHour(r *reg, i int) {
	r.done(i)
	for {
		time.Sleep(time.Hour)
	}
}

//go:noinline
func startNoFalseNetpoll(b *builder) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("listen: %v", err)
	}
	srv := b.group("server", Blocked, "main.acceptAndHold", "main.startNoFalseNetpoll", "IO wait",
		"in Accept: netpoll will wake it", 1)
	accepted := make(chan struct{}, b.n)
	go acceptAndHold(srv.r, ln, accepted)
	srv.parked()
	results := make(chan int)
	cl := b.group("readers", Blocked, "main.readThenSend", "main.startNoFalseNetpoll", "IO wait",
		"in conn.Read without deadline: netpoll will wake it when the peer writes", b.n)
	for i := 0; i < b.n; i++ {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			fatalf("dial: %v", err)
		}
		<-accepted
		go readThenSend(cl.r, i, conn, results)
	}
	cl.parked()
	g := b.group("receivers", Blocked, "main.recvFromReader", "main.startNoFalseNetpoll", "chan receive",
		"the readers in IO wait keep the channel on their stacks and will send", b.n)
	g.with(Obj{Kind: "chan", Addr: addr(results), Role: "recv", Via: "goroutine readers stack"})
	for i := 0; i < b.n; i++ {
		go recvFromReader(g.r, i, results)
	}
	g.parked()
}

//go:noinline
func acceptAndHold(r *reg, ln net.Listener, accepted chan struct{}) {
	var conns []net.Conn
	r.done(0)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conns = append(conns, c) // never answered, never closed
		accepted <- struct{}{}
	}
}

//go:noinline
func readThenSend(r *reg, i int, conn net.Conn, out chan int) {
	buf := make([]byte, 64)
	r.done(i)
	n, _ := conn.Read(buf)
	out <- n
}

//go:noinline
func recvFromReader(r *reg, i int, ch chan int) {
	r.done(i)
	<-ch
}

// ---------------------------------------------------------------- no waker

type entry struct {
	key string
	val []byte
}

type cacheService struct {
	name  string
	cache chan *entry
	quit  chan struct{}
	gone  chan struct{}
}

//go:noinline
func startNoWakerCache(b *builder) {
	svc := &cacheService{name: "cache", cache: make(chan *entry, 100), quit: make(chan struct{}), gone: make(chan struct{})}
	b.main.keep = append(b.main.keep, svc) // main still holds the service
	go svc.consume()
	close(svc.quit)
	<-svc.gone // the consumer has exited
	const senders = 120
	g := b.group("senders", NoWaker, "main.(*cacheService).put", "main.startNoWakerCache", "chan send",
		"the cache channel is reachable (main keeps the service) and full; its consumer has exited", senders)
	g.with(Obj{Kind: "chan", Addr: addr(svc.cache), Role: "send", Via: "main stack", Extra: "100/100"})
	for i := 0; i < senders; i++ {
		go svc.put(g.r, i)
	}
	g.parkedBut(100)
}

//go:noinline
func (s *cacheService) consume() {
	defer close(s.gone)
	for {
		select {
		case e := <-s.cache:
			_ = e
		case <-s.quit:
			return
		}
	}
}

//go:noinline
func (s *cacheService) put(r *reg, i int) {
	r.done(i)
	s.cache <- &entry{key: "k", val: make([]byte, 8)}
	r.finish(i)
}

var gPending sync.WaitGroup

//go:noinline
func startNoWakerWGGlobal(b *builder) {
	gPending.Add(2)
	g := b.group("waiters", NoWaker, "main.waitPending", "main.startNoWakerWGGlobal", reasonWaitGroup(),
		"the WaitGroup is a global (reachable) but no goroutine could call Done", b.n)
	g.with(Obj{Kind: "waitgroup", Addr: addr(&gPending), Role: "wait", Via: "global main.gPending", Extra: "counter 2"})
	for i := 0; i < b.n; i++ {
		go waitPending(g.r, i)
	}
	g.parked()
}

//go:noinline
func waitPending(r *reg, i int) {
	r.done(i)
	gPending.Wait()
}

// ---------------------------------------------------------------- lingering

//go:noinline
func dropCancel(cancel context.CancelFunc) {}

//go:noinline
func startCtxCancelDropped(b *builder) {
	ctx, cancel := context.WithCancel(context.Background())
	dropCancel(cancel)
	g := b.group("monitors", Lingering, "main.monitor", "main.startCtxCancelDropped", "select",
		"wakes every hour; ctx.Done() can never close (nobody can reach cancel)", b.n)
	g.with(Obj{Kind: "ctx", Addr: addr(ctx), Role: "recv", Extra: "cancel dropped"}, Obj{Kind: "timer", Role: "recv", Extra: "time.After(1h)"})
	for i := 0; i < b.n; i++ {
		go monitor(g.r, i, ctx)
	}
	g.parked()
}

//go:noinline
func monitor(r *reg, i int, ctx context.Context) {
	r.done(i)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

//go:noinline
func startCtxBackgroundLoop(b *builder) {
	g := b.group("loops", Lingering, "main.monitor", "main.startCtxBackgroundLoop", "select",
		"wakes every hour; context.Background().Done() is nil", b.n)
	for i := 0; i < b.n; i++ {
		go monitor(g.r, i, context.Background())
	}
	g.parked()
}

//go:noinline
func startTickerAbandoned(b *builder) {
	g := b.group("tickers", Lingering, "main.tickForever", "main.startTickerAbandoned", "chan receive",
		"the ticker fires every hour and the loop never ends", b.n)
	for i := 0; i < b.n; i++ {
		go tickForever(g.r, i)
	}
	g.parked()
}

//go:noinline
func tickForever(r *reg, i int) {
	t := time.NewTicker(time.Hour)
	r.done(i)
	for range t.C {
	}
}

var gCancel context.CancelFunc

//go:noinline
func startCtxCancelGlobal(b *builder) {
	ctx, cancel := context.WithCancel(context.Background())
	gCancel = cancel
	g := b.group("waiters", Blocked, "main.waitDone", "main.startCtxCancelGlobal", "chan receive",
		"cancel is in main.gCancel: anyone may cancel", b.n)
	for i := 0; i < b.n; i++ {
		go waitDone(g.r, i, ctx)
	}
	g.parked()
}

//go:noinline
func waitDone(r *reg, i int, ctx context.Context) {
	d := ctx.Done()
	r.done(i)
	<-d
}

//go:noinline
func startCtxTimeout(b *builder) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	dropCancel(cancel)
	g := b.group("waiters", Blocked, "main.waitDone", "main.startCtxTimeout", "chan receive",
		"the context's timer will cancel it", b.n)
	for i := 0; i < b.n; i++ {
		go waitDone(g.r, i, ctx)
	}
	g.parked()
}
