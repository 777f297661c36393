package main

import (
	"context"
	"reflect"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// An interior pointer keeps its whole object: a global holds only the
// address of h's last word; a resliced slice keeps its whole backing
// array, stale slots included.
var gInterior *uintptr
var gResliced []*holder
var gTruncated []*holder

func caseInterior(n int) {
	h := &holder{ch: make(chan int)}
	gInterior = &h.pad[5]
	receivers("interior", "field_pointer", Blocked, "a global points into the holder's last word", n, h.ch).wait()
	h2 := &holder{ch: make(chan int)}
	s := []*holder{h2, {}, {}}
	gResliced = s[1:]
	receivers("interior", "resliced_away", Blocked, "s[1:] still points into the backing array whose slot 0 holds the holder", n, h2.ch).wait()
	h3 := &holder{ch: make(chan int)}
	gTruncated = []*holder{h3}
	gTruncated = gTruncated[:0]
	receivers("interior", "truncated", Blocked, "s[:0] keeps the backing array and its stale slot", n, h3.ch).wait()
}

// Objects whose pointer mask the runtime builds only when it first needs
// it (1.24+ TFlagGCMaskOnDemand; from 1.27 for pointers past 128 bytes):
// allocated after the last GC, the mask may not exist in the core.
type farPtr struct {
	pad [300]uintptr
	ch  chan int
}

type bigArr struct {
	a [4000]struct {
		x  uintptr
		ch chan int
	}
}

var gFar *farPtr
var gBigArr *bigArr
var gMap = map[int]*holder{}

func caseLayouts(n int) {
	f := &farPtr{ch: make(chan int)}
	gFar = f
	receivers("layouts", "far_pointer", Blocked, "a channel 2400 bytes into a 2.4 KB object a global keeps", n, f.ch).wait()
	b := &bigArr{}
	b.a[3999].ch = make(chan int)
	gBigArr = b
	receivers("layouts", "large_array_tail", Blocked, "the last element of a 64 KB array (a large object)", n, b.a[3999].ch).wait()
	for i := 0; i < 5000; i++ {
		gMap[i] = &holder{}
	}
	gMap[4321].ch = make(chan int)
	receivers("layouts", "big_map", Blocked, "one value of a 5000-entry global map", n, gMap[4321].ch).wait()
}

// A stack object: a sleeper keeps a holder in its frame (address taken,
// not escaping) and passes it down.
//
//go:noinline
func sleepWith(g *grp, h *holder) {
	g.mark()
	for forever() {
		time.Sleep(time.Hour)
	}
	close(h.ch)
}

//go:noinline
func stackObjectOwner(g *grp, ch chan int) {
	var h holder
	h.ch = ch
	sleepWith(g, &h)
}

// A goroutine in a blocking system call (_Gsyscall) holding ch.
//
//go:noinline
func syscallThenClose(g *grp, fd int, ch chan int) {
	var b [1]byte
	g.mark()
	syscall.Read(fd, b[:])
	close(ch)
}

var gPipeW int

func caseRoots(n int) {
	ch := make(chan int)
	s := group("roots", "stack_object_sleeper", "root", "sleeps with a stack object holding ch", 1)
	go stackObjectOwner(s, ch)
	s.wait()
	receivers("roots", "stack_object_receivers", Blocked, "ch is in a stack object of a sleeper, reached from its callee's argument", n, ch).wait()

	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		fatalf("pipe: %v", err)
	}
	gPipeW = p[1]
	ch2 := make(chan int)
	r := group("roots", "syscall_reader", "root", "blocked in read(2) on a pipe (a syscall)", 1)
	go syscallThenClose(r, p[0], ch2)
	r.wait()
	waitStatus(r.ids[0], "[syscall")
	receivers("roots", "syscall_receivers", Blocked, "ch is held by a goroutine in a system call", n, ch2).wait()

	ch3 := make(chan int)
	done := make(chan int)
	go func() { _ = ch3; close(done) }()
	<-done
	receivers("roots", "exited_holder", Leaked, "the goroutine that held ch has exited", n, ch3).wait()
}

// A channel carried by a blocked send: the value is in the sender's frame.
var gSendTo = make(chan chan int)

//go:noinline
func sendChan(g *grp, to chan chan int, ch chan int) {
	g.mark()
	to <- ch
}

// A receive into a heap location: the compiler receives into a
// temporary of the receiver's frame and stores it after, so h is not
// reached from the (leaked) receiver's sudog.
//
//go:noinline
func recvInto(g *grp, h *holder, from chan chan int) {
	g.mark()
	h.ch = <-from
}

// A send through reflect: Value.Send passes the Value's own pointer as the
// sudog's elem, and a struct Value (not pointer-shaped) points to a heap
// copy. The sudog hangs off g.waiting (g is a heap object reached from
// allgs) and the detector hides only sudog.c of a channel wait: the copy,
// and the channel in it, stay reachable though the sender is leaked.
type holderValue struct {
	ch  chan int
	pad [3]uintptr
}

//go:noinline
func reflectSend(g *grp, to chan holderValue, ch chan int) {
	v := reflect.ValueOf(holderValue{ch: ch})
	g.mark()
	reflect.ValueOf(to).Send(v)
}

var gRecvHolder *holder

func caseCarried(n int) {
	ch := make(chan int)
	s := group("carried", "sender_live", Blocked, "sends ch on a global channel", 1)
	go sendChan(s, gSendTo, ch)
	s.wait()
	receivers("carried", "sender_live_receivers", Blocked, "ch is the value of a blocked send on a global channel", n, ch).wait()

	ch2 := make(chan int)
	s2 := group("carried", "sender_leaked", Leaked, "sends ch on a private channel", 1)
	go sendChan(s2, make(chan chan int), ch2)
	s2.wait()
	receivers("carried", "sender_leaked_receivers", Leaked, "ch is the value of a leaked send (the sender's frame)", n, ch2).wait()

	h := &holder{ch: make(chan int)}
	r := group("carried", "recv_into_heap", Leaked, "receives into h.ch from a private channel", 1)
	go recvInto(r, h, make(chan chan int))
	r.wait()
	receivers("carried", "recv_into_heap_receivers", Leaked,
		"h.ch: h is reached only from the leaked receiver's frame (it receives into a temporary)", n, h.ch).wait()
	h = nil

	ch4 := make(chan int)
	s4 := group("carried", "reflect_send_leaked", Leaked, "reflect Send on a private channel", 1)
	go reflectSend(s4, make(chan holderValue), ch4)
	s4.wait()
	receivers("carried", "reflect_send_leaked_receivers", Blocked,
		"ch is in the heap copy a leaked reflect Send waits with: allgs -> g -> waiting sudog -> elem (semantically leaked, the detector marks it)", n, ch4).wait()
}

// Contexts: a child of a live cancelable parent is kept in the parent's
// children; a dropped WithCancel of Background is not kept by anyone; a
// WithTimeout is kept by its timer.
var gParentCtx context.Context
var gParentCancel context.CancelFunc

//go:noinline
func waitCtx(g *grp, ctx context.Context) {
	g.mark()
	<-ctx.Done()
}

func caseContexts(n int) {
	gParentCtx, gParentCancel = context.WithCancel(context.Background())
	child, cancel := context.WithCancel(gParentCtx)
	_ = cancel
	g := group("contexts", "child_of_global", Blocked, "a child of a global cancelable context: parent.children keeps it", n)
	for i := 0; i < n; i++ {
		go waitCtx(g, child)
	}
	g.wait()
	orphan, cancel2 := context.WithCancel(context.Background())
	_ = cancel2
	g2 := group("contexts", "dropped_cancel", Leaked, "WithCancel(Background) whose cancel was dropped", n)
	for i := 0; i < n; i++ {
		go waitCtx(g2, orphan)
	}
	g2.wait()
	timed, cancel3 := context.WithTimeout(context.Background(), time.Hour)
	_ = cancel3
	g3 := group("contexts", "timeout", Blocked, "WithTimeout: its timer (allp) keeps the context", n)
	for i := 0; i < n; i++ {
		go waitCtx(g3, timed)
	}
	g3.wait()
}

// A finalizer that never returns holds up the finalizer goroutine; the
// finalizers queued behind it are roots (finq / allfin).
var gFinStuck int64
var gFinStarted int32

func caseFinalizerQueue(n int) {
	block := make(chan int)
	x := &big{}
	runtime.SetFinalizer(x, func(*big) {
		atomic.StoreInt64(&gFinStuck, myGoid())
		atomic.StoreInt32(&gFinStarted, 1)
		<-block
	})
	x = nil
	deadline := time.Now().Add(30 * time.Second)
	for atomic.LoadInt32(&gFinStarted) == 0 {
		runtime.GC()
		if time.Now().After(deadline) {
			fatalf("the first finalizer never ran")
		}
		time.Sleep(time.Millisecond)
	}
	ch := make(chan int)
	y := &big{}
	runtime.SetFinalizer(y, func(*big) { close(ch) })
	y = nil
	runtime.GC()
	runtime.GC()
	receivers("finalizer_queue", "queued_receivers", Blocked, "ch is captured by a finalizer queued behind a stuck one", n, ch).wait()
	// runfinq clears a record (f.fn = nil) and the block's count only after
	// the finalizer returns: the running one's closure is still in finq.
	acc.Goroutines = append(acc.Goroutines, &G{Goid: atomic.LoadInt64(&gFinStuck), Case: "finalizer_queue",
		Group: "stuck_finalizer", Expect: Blocked,
		Why: "the finalizer goroutine waits on a channel its finalizer's closure holds, and that record stays in finq while it runs (semantically leaked, the detector marks it)"})
}

// Allocated after the last GC (and, on 1.27, before the detector's): the
// types' pointer masks are built on demand (1.24+: pointers past 1 KiB on
// 1.27, past 128 KiB before), so the core may hold none for them.
type farPtrLate struct {
	pad [300]uintptr
	ch  chan int
}

type bigArrLate struct {
	a [13000]struct {
		x  uintptr
		ch chan int
	}
}

var gFarLate *farPtrLate
var gBigArrLate *bigArrLate

func caseLate(n int) {
	f := &farPtrLate{ch: make(chan int)}
	gFarLate = f
	receivers("late", "far_pointer", Blocked, "a channel 2400 bytes into an object allocated after the last GC", n, f.ch).wait()
	b := &bigArrLate{}
	b.a[12999].ch = make(chan int)
	gBigArrLate = b
	receivers("late", "large_array_tail", Blocked, "the last element of a 208 KB array allocated after the last GC", n, b.a[12999].ch).wait()
}
