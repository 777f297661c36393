// Command reach parks goroutines whose wait objects are reachable only
// through a path the garbage collector follows in a subtle way (a
// finalizer, a cleanup, a timer, the netpoller, os/signal, sync.Pool, a
// sync.Map, a channel's buffer, another parked goroutine's stack, a
// running goroutine's registers, a defer record, reflect.Select...), next to
// the same shapes with the last reference dropped, and the lock patterns
// (a holder or the only waker leaked). It writes an ACCOUNT (JSON) of every
// goroutine it parked: its runtime.Stack id, its case and whether the Go
// runtime's goroutine leak detector must find it leaked; then prints READY
// and blocks in time.Sleep (a root).
//
// On a runtime with the detector (Go 1.27) it asks it just before READY
// (pprof.Lookup("goroutineleak"), debug=2) and records the ids it reported:
// that is the reference of "leaked (proven)". The account's own expectation
// is the runtime's rule (mgc.go findGoroutineLeaks), written by hand per
// case; where a case depends on runtime state the program cannot know (a
// stopped timer left in a P's heap), it says "either".
//
// It builds with Go 1.19 to 1.27 (go124.go: AddCleanup and weak pointers).
// tests/test_reach.py builds it, takes the core (GOTRACEBACK=crash,
// SIGQUIT) and compares goparked's proven-leaked set with the account and
// the runtime's profile.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	Leaked  = "leaked"  // the detector finds it leaked
	Blocked = "blocked" // it does not (something that can run reaches what it waits on)
	Either  = "either"  // depends on runtime state the program cannot see (see why)
)

type G struct {
	Goid   int64  `json:"goid"`
	Case   string `json:"case"`
	Group  string `json:"group"`
	Expect string `json:"expect"`
	Why    string `json:"why"`
}

type Profile struct {
	Available bool    `json:"available"`
	Reason    string  `json:"reason,omitempty"`
	Count     int     `json:"count"`
	Leaked    []int64 `json:"leaked_goids"`
	Debug2    string  `json:"debug2"`
}

type Account struct {
	Program    string   `json:"program"`
	GoVersion  string   `json:"go_version"`
	GoMinor    int      `json:"go_minor"`
	Pid        int      `json:"pid"`
	MainGoid   int64    `json:"main_goid"`
	Cases      []string `json:"cases"`
	Goroutines []*G     `json:"goroutines"`
	Profile    *Profile `json:"runtime_leak_profile"`
}

var acc = &Account{Program: "reach", Goroutines: []*G{}}

// never is never set: loops on it look as if they could end, so that what
// follows them (a close, a send, a KeepAlive) keeps its variables live.
var never int32

func forever() bool { return atomic.LoadInt32(&never) == 0 }

// grp is one group of goroutines of a case with one expectation. It holds
// goroutine ids only, never the objects they wait on.
type grp struct {
	c      string
	name   string
	expect string
	why    string
	mu     sync.Mutex
	ids    []int64
	wg     sync.WaitGroup
}

var groups []*grp

func group(c, name, expect, why string, n int) *grp {
	g := &grp{c: c, name: name, expect: expect, why: why}
	g.wg.Add(n)
	groups = append(groups, g)
	return g
}

// mark records the caller's id; it is called just before it parks.
func (g *grp) mark() {
	id := myGoid()
	g.mu.Lock()
	g.ids = append(g.ids, id)
	g.mu.Unlock()
	g.wg.Done()
}

func (g *grp) wait() {
	g.wg.Wait()
	for _, id := range g.ids {
		acc.Goroutines = append(acc.Goroutines, &G{Goid: id, Case: g.c, Group: g.name, Expect: g.expect, Why: g.why})
	}
}

func myGoid() int64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	b := bytes.TrimPrefix(buf[:n], []byte("goroutine "))
	i := bytes.IndexByte(b, ' ')
	id, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil {
		panic(err)
	}
	return id
}

var goMinor = func() int {
	v := strings.TrimPrefix(runtime.Version(), "go1.")
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	m, err := strconv.Atoi(v[:end])
	if err != nil {
		return 99
	}
	return m
}()

// holder is a heap object (never a tiny-allocator block: it has a pointer).
type holder struct {
	ch  chan int
	pad [6]uintptr
}

//go:noinline
func recvOn(g *grp, ch chan int) {
	g.mark()
	<-ch
}

// receivers starts n goroutines receiving on ch; ch is the only thing
// their stacks hold (and candidates' stacks are not roots).
func receivers(c, name, expect, why string, n int, ch chan int) *grp {
	g := group(c, name, expect, why, n)
	for i := 0; i < n; i++ {
		go recvOn(g, ch)
	}
	return g
}

// ------------------------------------------------------------------ cases

var gKeep []interface{} // what a case keeps reachable from a global on purpose

type big struct {
	p   *int
	pad [8]uintptr
}

// A finalizer's closure is a root (markrootSpans scans the special's fn).
func caseFinalizerClosure(n int) {
	ch := make(chan int)
	x := &big{}
	runtime.SetFinalizer(x, func(*big) { close(ch) })
	gKeep = append(gKeep, x)
	receivers("finalizer_closure", "receivers", Blocked, "ch is captured by the finalizer of an object a global keeps", n, ch).wait()

	ch2 := make(chan int)
	y := &big{}
	runtime.SetFinalizer(y, func(*big) { close(ch2) })
	runtime.SetFinalizer(y, nil)
	gKeep = append(gKeep, y)
	receivers("finalizer_closure", "cleared", Leaked, "the finalizer that captured ch was removed", n, ch2).wait()
}

// A finalizer's object is scanned (without being marked) even when only a
// leaked goroutine keeps it: what it points to is reachable.
//
//go:noinline
func keepUntil(g *grp, x *holder, wake chan int) {
	g.mark()
	<-wake
	runtime.KeepAlive(x)
}

func caseFinalizerArg(n int) {
	x := &holder{ch: make(chan int)}
	runtime.SetFinalizer(x, func(*holder) {})
	k := group("finalizer_arg", "keeper", Leaked, "waits on a channel only it holds; its stack keeps x", 1)
	go keepUntil(k, x, make(chan int))
	k.wait()
	receivers("finalizer_arg", "receivers", Blocked, "x.ch: x has a finalizer, so the GC scans x as a root", n, x.ch).wait()

	y := &holder{ch: make(chan int)}
	runtime.SetFinalizer(y, func(*holder) {})
	runtime.SetFinalizer(y, nil)
	k2 := group("finalizer_arg", "keeper_cleared", Leaked, "waits on a channel only it holds; its stack keeps y", 1)
	go keepUntil(k2, y, make(chan int))
	k2.wait()
	receivers("finalizer_arg", "receivers_cleared", Leaked, "y.ch: y's finalizer was removed, only a leaked stack keeps y", n, y.ch).wait()
}

// A time.AfterFunc closure is reached from the P's timer heap (allp).
func caseAfterFunc(n int) {
	ch := make(chan int)
	time.AfterFunc(time.Hour, func() { close(ch) })
	receivers("afterfunc", "pending", Blocked, "ch is captured by a pending AfterFunc's closure (allp -> timer)", n, ch).wait()

	ch2 := make(chan int)
	t := time.AfterFunc(time.Hour, func() { close(ch2) })
	t.Stop()
	receivers("afterfunc", "stopped", Either, "the timer was stopped: the runtime may keep it in the P's heap (a zombie, or timerDeleted before 1.23) until it cleans the heap", n, ch2).wait()
}

// A timer's channel is held by the runtime's timer while a goroutine is
// blocked on it (1.23+) or while the timer is pending (<= 1.22).
//
//go:noinline
func recvTimer(g *grp, stop bool) {
	t := time.NewTimer(time.Hour)
	if stop {
		t.Stop()
	}
	g.mark()
	<-t.C
}

func caseTimerChan(n int) {
	g := group("timer_chan", "pending", Blocked, "the pending timer (allp -> timer -> channel) keeps t.C", n)
	for i := 0; i < n; i++ {
		go recvTimer(g, false)
	}
	g.wait()
	// Stopped before the receive, so semantically leaked; but the core may
	// still have the timer in a P's heap, where the GC reaches it: before
	// 1.23 a deleted timer stays there until the P cleans its heap, and a
	// 1.26 core showed one heaped as a zombie (state heaped|modified|zombie,
	// when 0) though Stop came first.
	exp, why := Either, "stopped before the receive: leaked unless the timer is still in a P's heap (deleted, or a zombie)"
	g2 := group("timer_chan", "stopped", exp, why, n)
	for i := 0; i < n; i++ {
		go recvTimer(g2, true)
	}
	g2.wait()
}

// A reader in conn.Read (IO wait: a root) holds ch; its peer keeps the
// connection open.
var gPeers []net.Conn

//go:noinline
func readThenClose(g *grp, c net.Conn, ch chan int) {
	var b [1]byte
	g.mark()
	c.Read(b[:])
	close(ch)
}

func caseNetpoll(n int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("listen: %v", err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fatalf("dial: %v", err)
	}
	server, err := ln.Accept()
	if err != nil {
		fatalf("accept: %v", err)
	}
	gPeers = append(gPeers, client)
	ch := make(chan int)
	r := group("netpoll", "reader", Blocked, "in conn.Read (IO wait), never a candidate", 1)
	go readThenClose(r, server, ch)
	r.wait()
	receivers("netpoll", "receivers", Blocked, "ch is held only by the reader's stack (a root: IO wait)", n, ch).wait()
}

// os/signal keeps Notify's channels in a global handler table.
func caseSignal(n int) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	g := group("signal", "notified", Blocked, "os/signal's handlers (a global) keep ch", n)
	for i := 0; i < n; i++ {
		go func() { g.mark(); <-ch }()
	}
	g.wait()
	ch2 := make(chan os.Signal, 1)
	signal.Notify(ch2, syscall.SIGUSR2)
	signal.Stop(ch2)
	// Before 1.24 Stop removed ch from handlers.stopping with
	// append(s[:i], s[i+1:]...): the stale entry stays in the slice's
	// backing array, which the GC scans whole (handlers is a global); from
	// 1.24 slices.Delete clears it.
	exp, why := Leaked, "signal.Stop removed ch from the handlers (slices.Delete clears the stale slot)"
	if goMinor < 24 {
		exp, why = Blocked, "signal.Stop left ch in the backing array of handlers.stopping (append(s[:i], s[i+1:]...)): the GC still reaches it"
	}
	g2 := group("signal", "stopped", exp, why, n)
	for i := 0; i < n; i++ {
		go func() { g2.mark(); <-ch2 }()
	}
	g2.wait()
}

// sync.Pool: every GC moves the pool's contents to its victim cache and
// drops the previous victim (poolCleanup at gcStart).
var gPool sync.Pool

func casePoolDropped(n int) {
	h := &holder{ch: make(chan int)}
	gPool.Put(h)
	receivers("pool", "dropped", Leaked, "put before two GCs: poolCleanup dropped it", n, h.ch).wait()
}

func casePoolFresh(n int) {
	h := &holder{ch: make(chan int)}
	gPool.Put(h)
	receivers("pool", "fresh", Blocked, "put after the GCs: the pool (or its victim, after the detector's GC) keeps it", n, h.ch).wait()
}

// A map / slice / interface / closure chain held by a global.
var gChain interface{}
var gChain2 = map[string]interface{}{}

func caseGlobalChain(n int) {
	ch := make(chan int)
	gChain = map[string][]func(){"k": {nil, func() { close(ch) }}}
	receivers("global_chain", "kept", Blocked, "global interface -> map -> slice -> closure -> ch", n, ch).wait()
	ch2 := make(chan int)
	gChain2["k"] = []interface{}{func() { close(ch2) }}
	gChain2["other"] = 1
	delete(gChain2, "k")
	receivers("global_chain", "deleted", Leaked, "the map entry was deleted", n, ch2).wait()
}

// A value stored as `any` in a sync.Map.
var gSyncMap sync.Map

func caseSyncMap(n int) {
	h := &holder{ch: make(chan int)}
	gSyncMap.Store("k", interface{}(h))
	receivers("sync_map", "stored", Blocked, "sync.Map (a global) -> any -> holder -> ch", n, h.ch).wait()
	h2 := &holder{ch: make(chan int)}
	gSyncMap.Store("k2", interface{}(h2))
	gSyncMap.Delete("k2")
	receivers("sync_map", "deleted", Leaked, "deleted from the sync.Map", n, h2.ch).wait()
}

// A channel of channels; a struct in a buffered channel's buffer.
var gChanOfChans = make(chan chan int, 1)
var gStructBuf = make(chan *holder, 4)

//go:noinline
func recvWithBuf(g *grp, ch chan int, buf chan *holder) {
	g.mark()
	<-ch
	runtime.KeepAlive(buf)
}

func caseChanBuffers(n int) {
	ch := make(chan int)
	gChanOfChans <- ch
	receivers("chan_buffers", "chan_of_chans", Blocked, "global chan chan int's buffer holds ch", n, ch).wait()
	ch2 := make(chan int)
	cc := make(chan chan int, 1)
	cc <- ch2
	cc = nil
	receivers("chan_buffers", "chan_of_chans_dropped", Leaked, "the chan chan that buffers ch is garbage", n, ch2).wait()

	h := &holder{ch: make(chan int)}
	gStructBuf <- h
	receivers("chan_buffers", "struct_in_buffer", Blocked, "global buffered chan -> *holder -> ch", n, h.ch).wait()
	h2 := &holder{ch: make(chan int)}
	pb := make(chan *holder, 4)
	pb <- h2
	g := group("chan_buffers", "struct_in_private_buffer", Leaked, "the buffered chan is held only by its waiters' stacks", n)
	for i := 0; i < n; i++ {
		go recvWithBuf(g, h2.ch, pb)
	}
	g.wait()
}

// A parked goroutine's stack is a root once it can be woken: a chain.
var gChainStart = make(chan int)

//go:noinline
func chainLink(g *grp, wait chan int, next chan int) {
	g.mark()
	<-wait
	close(next)
}

func caseParkedChain(n int) {
	for _, live := range []bool{true, false} {
		start := gChainStart
		exp, name := Blocked, "live"
		if !live {
			start = make(chan int)
			exp, name = Leaked, "dead"
		}
		why := "a chain of receivers, each holding the next one's channel, from a global channel"
		if !live {
			why = "the same chain from a private channel"
		}
		b, c := make(chan int), make(chan int)
		g1 := group("parked_chain", name+"_1", exp, why, 1)
		go chainLink(g1, start, b)
		g1.wait()
		g2 := group("parked_chain", name+"_2", exp, why, 1)
		go chainLink(g2, b, c)
		g2.wait()
		receivers("parked_chain", name+"_3", exp, why, n, c).wait()
	}
}

// A pointer kept only by a running goroutine: its registers and innermost
// frame. spin keeps h in a register; spinAsm keeps it in AX inside an
// assembly loop (no asynchronous preemption there), so that the core
// finds that goroutine running with h only in the ucontext of the signal
// that stopped its thread.
var gSpinning int32

//go:noinline
func spin(h *holder) {
	atomic.AddInt32(&gSpinning, 1)
	x := uintptr(0)
	for forever() {
		x++
	}
	h.ch <- int(x)
}

// gHandoff holds spinAsm's holder between its assembly loops (a global:
// the collector sees it while the goroutine yields); inside the loop the
// holder is only in AX.
var gHandoff *holder

//go:noinline
func spinAsm() {
	atomic.AddInt32(&gSpinning, 1)
	for forever() {
		h := gHandoff
		gHandoff = nil
		gHandoff = spinHolding(h)
		// a preemption point between the assembly loops (which are
		// none): the collector's stop-the-world does not wait
		runtime.Gosched()
	}
	close(gHandoff.ch)
}

func caseSpinning(n int) {
	h := &holder{ch: make(chan int)}
	go spin(h)
	h2 := &holder{ch: make(chan int)}
	gHandoff = h2
	go spinAsm()
	for atomic.LoadInt32(&gSpinning) < 2 {
		time.Sleep(time.Millisecond)
	}
	receivers("spinning", "receivers", Blocked, "ch is held only by a running goroutine", n, h.ch).wait()
	receivers("spinning", "asm_receivers", Blocked, "ch is held only in a register of a goroutine running assembly", n, h2.ch).wait()
}

// Defer records: an open-coded defer keeps its closure in a stack slot; a
// defer in a loop is a heap _defer record on g._defer, and the g itself is
// a heap object reached from allgs, so even a leaked goroutine's heap
// defers keep their closures (GO_HEAP 3.5).
//
//go:noinline
func deferOpen(g *grp, wait chan int, ch chan int) {
	defer func() { close(ch) }()
	g.mark()
	<-wait
}

//go:noinline
func deferLoop(g *grp, wait chan int, ch chan int) {
	for i := 0; i < 1; i++ {
		defer func() { close(ch) }()
	}
	g.mark()
	<-wait
}

var gDeferWait = make(chan int)

func caseDefers(n int) {
	ch := make(chan int)
	d := group("defers", "open_live", Blocked, "waits on a global channel", 1)
	go deferOpen(d, gDeferWait, ch)
	d.wait()
	receivers("defers", "open_live_receivers", Blocked, "ch is captured by a live goroutine's open-coded defer", n, ch).wait()

	ch2 := make(chan int)
	d2 := group("defers", "open_leaked", Leaked, "waits on a channel only it holds", 1)
	go deferOpen(d2, make(chan int), ch2)
	d2.wait()
	receivers("defers", "open_leaked_receivers", Leaked, "ch is captured only by a leaked goroutine's open-coded defer (its stack)", n, ch2).wait()

	ch3 := make(chan int)
	d3 := group("defers", "heap_leaked", Leaked, "waits on a channel only it holds", 1)
	go deferLoop(d3, make(chan int), ch3)
	d3.wait()
	receivers("defers", "heap_leaked_receivers", Blocked,
		"ch is captured by a heap defer record of a leaked goroutine: allgs -> g -> _defer -> closure (semantically leaked, but the detector marks it)", n, ch3).wait()
}

// select over several channels, one reachable.
//
//go:noinline
func select3(g *grp, a, b, c chan int) {
	g.mark()
	select {
	case <-a:
	case <-b:
	case c <- 1:
	}
}

var gSelectKeep *big

func caseSelect(n int) {
	c := make(chan int)
	x := &big{}
	runtime.SetFinalizer(x, func(*big) { <-c })
	gSelectKeep = x
	g := group("select", "one_reachable", Blocked, "the third channel is captured by a finalizer", n)
	for i := 0; i < n; i++ {
		go select3(g, make(chan int), make(chan int), c)
	}
	g.wait()
	g2 := group("select", "none_reachable", Leaked, "three private channels", n)
	c2 := make(chan int)
	for i := 0; i < n; i++ {
		go select3(g2, make(chan int), make(chan int), c2)
	}
	g2.wait()
}

// A pointer hidden in a uintptr: the GC does not see it.
var gHidden uintptr
var gHiddenSlice = make([]uintptr, 4)

func caseUintptr(n int) {
	h := &holder{ch: make(chan int)}
	gHidden = uintptr(unsafe.Pointer(h))
	gHiddenSlice[0] = uintptr(unsafe.Pointer(&h.ch))
	receivers("uintptr", "hidden", Leaked, "the only reference is a uintptr (noscan): the GC does not follow it", n, h.ch).wait()
}

// reflect.Select.
//
//go:noinline
func rselect(g *grp, chans ...chan int) {
	cases := make([]reflect.SelectCase, len(chans))
	for i, c := range chans {
		cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)}
	}
	g.mark()
	reflect.Select(cases)
}

var gReflectCh = make(chan int)

func caseReflectSelect(n int) {
	g := group("reflect_select", "one_global", Blocked, "one case is a global channel", n)
	for i := 0; i < n; i++ {
		go rselect(g, make(chan int), gReflectCh)
	}
	g.wait()
	g2 := group("reflect_select", "private", Leaked, "private channels only", n)
	for i := 0; i < n; i++ {
		go rselect(g2, make(chan int), make(chan int))
	}
	g2.wait()
}

// ------------------------------------------------------------ lock patterns

type lockBox struct {
	mu   sync.Mutex
	rw   sync.RWMutex
	wg   sync.WaitGroup
	cond *sync.Cond
	next *lockBox
}

var gLockWake = make(chan int)

// park waits on wake (a private channel: leaked; gLockWake: blocked; nil:
// sleeps, a root), keeping b.
//
//go:noinline
func park(wake chan int, b *lockBox) {
	if wake == nil {
		for forever() {
			time.Sleep(time.Hour)
		}
	} else {
		<-wake
	}
	runtime.KeepAlive(b)
}

func caseLocks(n int) {
	// Mutex held by a goroutine blocked forever; and by a sleeper.
	for _, leaked := range []bool{true, false} {
		b := &lockBox{}
		var wake chan int
		exp, name := Blocked, "mutex_holder_sleeps"
		if leaked {
			wake, exp, name = make(chan int), Leaked, "mutex_holder_leaked"
		}
		h := group("locks", name+"/holder", map[bool]string{true: Leaked, false: "root"}[leaked], "locks b.mu and parks", 1)
		go func() { b.mu.Lock(); h.mark(); park(wake, b) }()
		h.wait()
		w := group("locks", name+"/waiters", exp, "Lock of a heap mutex whose holder is parked", n)
		for i := 0; i < n; i++ {
			go func() { w.mark(); b.mu.Lock() }()
		}
		w.wait()
	}
	// RWMutex: a leaked writer with waiting readers; a leaked reader with a
	// waiting writer and readers queued behind it.
	{
		b := &lockBox{}
		wake := make(chan int)
		h := group("locks", "rw_writer_leaked/writer", Leaked, "write-locks b.rw and parks on a private channel", 1)
		go func() { b.rw.Lock(); h.mark(); park(wake, b) }()
		h.wait()
		r := group("locks", "rw_writer_leaked/readers", Leaked, "RLock of a heap RWMutex whose writer leaked", n)
		for i := 0; i < n; i++ {
			go func() { r.mark(); b.rw.RLock() }()
		}
		r.wait()
	}
	{
		b := &lockBox{}
		wake := make(chan int)
		h := group("locks", "rw_reader_leaked/reader", Leaked, "read-locks b.rw and parks on a private channel", 1)
		go func() { b.rw.RLock(); h.mark(); park(wake, b) }()
		h.wait()
		w := group("locks", "rw_reader_leaked/writer", Leaked, "Lock behind a leaked reader", 1)
		go func() { w.mark(); b.rw.Lock() }()
		w.wait()
		waitWriterPending(&b.rw)
		r := group("locks", "rw_reader_leaked/readers", Leaked, "RLock behind the waiting writer", n)
		for i := 0; i < n; i++ {
			go func() { r.mark(); b.rw.RLock() }()
		}
		r.wait()
	}
	// WaitGroup whose only decrementer leaked; and one who sleeps.
	for _, leaked := range []bool{true, false} {
		b := &lockBox{}
		b.wg.Add(1)
		var wake chan int
		exp, name := Blocked, "wg_decrementer_sleeps"
		if leaked {
			wake, exp, name = make(chan int), Leaked, "wg_decrementer_leaked"
		}
		d := group("locks", name+"/worker", map[bool]string{true: Leaked, false: "root"}[leaked], "would call Done after parking", 1)
		go func() { d.mark(); park(wake, b); b.wg.Done() }()
		d.wait()
		w := group("locks", name+"/waiters", exp, "Wait of a heap WaitGroup", n)
		for i := 0; i < n; i++ {
			go func() { w.mark(); b.wg.Wait() }()
		}
		w.wait()
	}
	// sync.Cond whose only signaler leaked; and one that waits on a global channel.
	for _, leaked := range []bool{true, false} {
		b := &lockBox{}
		b.cond = sync.NewCond(&sync.Mutex{})
		wake := gLockWake
		exp, name := Blocked, "cond_signaler_live"
		if leaked {
			wake, exp, name = make(chan int), Leaked, "cond_signaler_leaked"
		}
		s := group("locks", name+"/signaler", exp, "would Broadcast after parking on a channel", 1)
		go func() { s.mark(); park(wake, b); b.cond.Broadcast() }()
		s.wait()
		w := group("locks", name+"/waiters", exp, "Cond.Wait of a heap Cond", n)
		for i := 0; i < n; i++ {
			go func() { b.cond.L.Lock(); w.mark(); b.cond.Wait(); b.cond.L.Unlock() }()
		}
		w.wait()
	}
	// A chain across kinds: a sleeper holds a heap mutex; a goroutine waits
	// for it holding ch; receivers wait on ch.
	{
		b := &lockBox{}
		h := group("locks", "mutex_chain/holder", "root", "locks b.mu and sleeps", 1)
		go func() { b.mu.Lock(); h.mark(); park(nil, b) }()
		h.wait()
		ch := make(chan int)
		l := group("locks", "mutex_chain/locker", Blocked, "waits for b.mu (reachable from the sleeper), holds ch", 1)
		go func() { l.mark(); b.mu.Lock(); close(ch) }()
		l.wait()
		receivers("locks", "mutex_chain/receivers", Blocked, "ch is held by a goroutine that can be woken", n, ch).wait()
	}
}

// waitWriterPending waits until a writer announced itself (readerCount
// went negative): later RLocks then queue behind it.
func waitWriterPending(rw *sync.RWMutex) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		// readerCount follows w (Mutex, 8 bytes), writerSem, readerSem
		rc := (*int32)(unsafe.Pointer(uintptr(unsafe.Pointer(rw)) + 16))
		if atomic.LoadInt32(rc) < 0 {
			return
		}
		if time.Now().After(deadline) {
			fatalf("writer never pending")
		}
		time.Sleep(time.Millisecond)
	}
}

// ------------------------------------------------------------------- main

type caseFn struct {
	name string
	run  func(n int)
}

func table() []caseFn {
	t := []caseFn{
		// first: the spinners' stacks and registers then hold nothing of
		// another case. A spinner caught preempted (runnable, in
		// asyncPreempt: the usual state on a loaded machine) has its
		// frames and saved registers scanned conservatively, by the
		// runtime and by goparked alike, and a stale word of a stack
		// reused from an exited goroutine kept signal/stopped's channel
		// reachable (go1.26 stripped gcore, a loaded CI run).
		{"spinning", caseSpinning},
		{"finalizer_closure", caseFinalizerClosure},
		{"finalizer_arg", caseFinalizerArg},
		{"afterfunc", caseAfterFunc},
		{"timer_chan", caseTimerChan},
		{"netpoll", caseNetpoll},
		{"signal", caseSignal},
		{"pool", casePoolDropped}, // casePoolFresh runs after the GCs
		{"global_chain", caseGlobalChain},
		{"sync_map", caseSyncMap},
		{"chan_buffers", caseChanBuffers},
		{"parked_chain", caseParkedChain},
		{"defers", caseDefers},
		{"select", caseSelect},
		{"uintptr", caseUintptr},
		{"reflect_select", caseReflectSelect},
		{"locks", caseLocks},
		{"interior", caseInterior},
		{"layouts", caseLayouts},
		{"roots", caseRoots},
		{"carried", caseCarried},
		{"contexts", caseContexts},
		{"finalizer_queue", caseFinalizerQueue},
		{"cycles", caseCycles},
		{"keys", caseKeys},
		{"self", caseSelf},
		{"off_heap", caseOffHeap},
	}
	// pool (fresh) and late run after the GCs
	t = append(t, caseCoroutineCases()...)
	t = append(t, go125Cases()...)
	return append(t, extraCases()...)
}

func main() {
	var (
		n       = flag.Int("n", 2, "goroutines per group")
		accPath = flag.String("account", "", "write the JSON account here")
		profile = flag.Bool("leakprofile", true, "ask the runtime's goroutine leak detector before READY")
	)
	flag.Parse()
	acc.GoVersion, acc.GoMinor, acc.Pid, acc.MainGoid = runtime.Version(), goMinor, os.Getpid(), myGoid()
	for _, c := range table() {
		acc.Cases = append(acc.Cases, c.name)
		c.run(*n)
	}
	waitAllParked()
	// Two GCs: what was dropped is gone (and sync.Pool's victim cache too).
	runtime.GC()
	runtime.GC()
	// No GC from here to the core but the detector's: the core shows the
	// heap the detector judged (another GC would age sync.Pool's victim
	// cache out, and free what it found dead).
	debug.SetGCPercent(-1)
	casePoolFresh(*n)
	caseLate(*n)
	unstarted := make(chan int)
	receivers("unstarted", "receivers", Blocked,
		"ch is captured by the closure of a goroutine that never ran (g.sched.ctxt); before it is made, by main's frame", *n, unstarted).wait()
	acc.Cases = append(acc.Cases, "unstarted")
	waitAllParked()
	if *profile {
		acc.Profile = leakProfile()
	} else {
		acc.Profile = &Profile{Reason: "not asked"}
	}
	data, err := json.Marshal(acc)
	if err != nil {
		fatalf("marshal: %v", err)
	}
	if err := os.WriteFile(*accPath+".tmp", data, 0o644); err != nil {
		fatalf("write: %v", err)
	}
	if err := os.Rename(*accPath+".tmp", *accPath); err != nil {
		fatalf("rename: %v", err)
	}
	data = nil
	// The unstarted case: one P, a goroutine made (runnable, in the P's
	// runnext, its closure in g.sched.ctxt), and main spinning where it
	// cannot be preempted: that goroutine never runs.
	// READY first: during its write(2) another thread may take the P
	// (sysmon's retake) and run what is runnable.
	runtime.GOMAXPROCS(1)
	os.Stdout.Write([]byte("READY\n"))
	go func() { close(unstarted) }()
	spinForever()
	runtime.KeepAlive(gPeers)
}

func leakProfile() *Profile {
	p := pprof.Lookup("goroutineleak")
	if p == nil {
		return &Profile{Reason: "no goroutineleak profile in " + runtime.Version()}
	}
	out := &Profile{Available: true, Leaked: []int64{}}
	var b2 bytes.Buffer
	if err := p.WriteTo(&b2, 2); err != nil {
		fatalf("goroutineleak debug=2: %v", err)
	}
	out.Count = p.Count()
	out.Debug2 = b2.String()
	for _, line := range strings.Split(out.Debug2, "\n") {
		if !strings.HasPrefix(line, "goroutine ") {
			continue
		}
		f := strings.SplitN(line, " ", 3)
		i := strings.IndexByte(line, '[')
		if len(f) == 3 && i >= 0 && strings.Contains(line[i:], " (leaked)") {
			if id, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				out.Leaked = append(out.Leaked, id)
			}
		}
	}
	sort.Slice(out.Leaked, func(i, j int) bool { return out.Leaked[i] < out.Leaked[j] })
	return out
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "reach: "+format+"\n", args...)
	os.Exit(2)
}

func stackStatus() map[int64]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int64]string{}
	for _, line := range bytes.Split(buf, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("goroutine ")) {
			continue
		}
		f := strings.SplitN(string(line), " ", 3)
		if id, err := strconv.ParseInt(f[1], 10, 64); err == nil && len(f) == 3 {
			out[id] = f[2]
		}
	}
	return out
}

// waitStatus waits until goroutine id's status starts with prefix.
func waitStatus(id int64, prefix string) {
	deadline := time.Now().Add(30 * time.Second)
	for !strings.HasPrefix(stackStatus()[id], prefix) {
		if time.Now().After(deadline) {
			fatalf("goroutine %d never in %s", id, prefix)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitAllParked: no accounted goroutine is still running or runnable.
func waitAllParked() {
	want := map[int64]bool{}
	for _, g := range acc.Goroutines {
		want[g.Goid] = true
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		bad := 0
		for id, st := range stackStatus() {
			if want[id] && (strings.HasPrefix(st, "[running") || strings.HasPrefix(st, "[runnable")) {
				bad++
			}
		}
		if bad == 0 {
			return
		}
		if time.Now().After(deadline) {
			fatalf("%d goroutines still not parked after 60s", bad)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
