package main

import (
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Cycles: a channel whose buffer holds itself, two channels whose buffers
// hold each other, an object with a finalizer whose closure holds the
// object (the finalizer's function keeps it: it is never finalized).
type selfRef struct {
	ch  chan interface{}
	pad [4]uintptr
}

//go:noinline
func sendAny(g *grp, ch chan interface{}) {
	g.mark()
	ch <- 1
}

func caseCycles(n int) {
	self := make(chan interface{}, 1)
	self <- self
	g := group("cycles", "self_buffer", Leaked, "senders on a full channel whose buffer holds only itself", n)
	for i := 0; i < n; i++ {
		go sendAny(g, self)
	}
	g.wait()
	a, b := make(chan interface{}, 1), make(chan interface{}, 1)
	a <- b
	b <- a
	g2 := group("cycles", "mutual_buffers", Leaked, "senders on two full channels whose buffers hold each other", n)
	for i := 0; i < n; i++ {
		go sendAny(g2, a)
	}
	g2.wait()
	x := &selfRef{ch: make(chan interface{})}
	runtime.SetFinalizer(x, func(*selfRef) { _ = x })
	g3 := group("cycles", "finalizer_self", Blocked, "the finalizer's closure holds its own object (a root), whose field is the channel", n)
	for i := 0; i < n; i++ {
		go sendAny(g3, x.ch)
	}
	g3.wait()
}

// Pointer keys of global maps: a small key (stored inline) and a large
// one (over 128 bytes: stored indirectly, behind a pointer).
var gKeyMap = map[chan int]bool{}

type bigKey struct {
	ch  chan int
	pad [20]uintptr
}

var gBigKeyMap = map[bigKey]int{}

// noscan hiding: a channel pointer copied into a byte array.
var gBytes [64]byte

func caseKeys(n int) {
	ch := make(chan int)
	gKeyMap[ch] = true
	receivers("keys", "small_key", Blocked, "a global map's key", n, ch).wait()
	ch2 := make(chan int)
	gBigKeyMap[bigKey{ch: ch2}] = 1
	receivers("keys", "large_key", Blocked, "a global map's 168-byte key (stored behind a pointer)", n, ch2).wait()
	ch3 := make(chan int)
	*(*uintptr)(unsafe.Pointer(&gBytes[8])) = uintptr(unsafe.Pointer(&ch3))
	*(*uintptr)(unsafe.Pointer(&gBytes[16])) = *(*uintptr)(unsafe.Pointer(&ch3))
	receivers("keys", "in_bytes", Leaked, "the channel's address is kept only in a byte array (noscan)", n, ch3).wait()
}

// A sleeper (a root) whose frame held ch, dead after its last use: the
// stack map says the slot is not a pointer any more, though its bits are
// still there.
//
//go:noinline
func useThenSleep(g *grp, ch chan int) {
	keepSink(ch)
	g.mark()
	for forever() {
		time.Sleep(time.Hour)
	}
}

var gSink chan int

//go:noinline
func keepSink(ch chan int) {
	if ch == nil {
		gSink = ch
	}
}

// Self-deadlocks on a mutex and a WaitGroup that were locals (moved to the
// heap: only the goroutine's own stack refers to them).
//
//go:noinline
func selfLock(g *grp) {
	var mu sync.Mutex
	mu.Lock()
	g.mark()
	mu.Lock()
}

//go:noinline
func selfWait(g *grp) {
	var wg sync.WaitGroup
	wg.Add(1)
	g.mark()
	wg.Wait()
}

func caseSelf(n int) {
	ch := make(chan int)
	s := group("self", "dead_slot_sleeper", "root", "sleeps; ch was in its frame, dead after its last use", 1)
	go useThenSleep(s, ch)
	s.wait()
	receivers("self", "dead_slot_receivers", Leaked, "ch is only in a dead slot of a sleeper's frame", n, ch).wait()
	l := group("self", "self_lock", Leaked, "locks a mutex it holds (a local moved to the heap)", n)
	for i := 0; i < n; i++ {
		go selfLock(l)
	}
	l.wait()
	w := group("self", "self_wait", Leaked, "waits on its own WaitGroup (a local moved to the heap), counter 1", n)
	for i := 0; i < n; i++ {
		go selfWait(w)
	}
	w.wait()
}
