package main

import (
	"sync"
	"syscall"
	"unsafe"
)

// Sync objects outside the Go heap (a page of mmap'd memory): the detector
// treats a wait object that is not in the heap as reachable (mgc.go
// isMarkedOrNotInHeap), so their waiters are never leaked for it, though
// the holder and the would-be waker are leaked.
type offHeap struct {
	mu sync.Mutex
	wg sync.WaitGroup
}

var gOffHeapPage []byte // keeps the mapping (not a Go object: never scanned into)

//go:noinline
func lockAndLeak(g *grp, mu *sync.Mutex) {
	mu.Lock()
	g.mark()
	<-make(chan int)
	mu.Unlock()
}

//go:noinline
func waitThenDone(g *grp, wg *sync.WaitGroup) {
	g.mark()
	<-make(chan int)
	wg.Done()
}

func caseOffHeap(n int) {
	page, err := syscall.Mmap(-1, 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		fatalf("mmap: %v", err)
	}
	gOffHeapPage = page
	o := (*offHeap)(unsafe.Pointer(&page[0]))
	h := group("off_heap", "mutex_holder", Leaked, "locks a mutex in mmap'd memory, parks on a private channel", 1)
	go lockAndLeak(h, &o.mu)
	h.wait()
	w := group("off_heap", "mutex_waiters", Blocked, "Lock of a mutex outside the heap (never judged leaked by the detector)", n)
	for i := 0; i < n; i++ {
		go func() { w.mark(); o.mu.Lock() }()
	}
	w.wait()
	o.wg.Add(1)
	d := group("off_heap", "wg_worker", Leaked, "would call Done after parking on a private channel", 1)
	go waitThenDone(d, &o.wg)
	d.wait()
	ww := group("off_heap", "wg_waiters", Blocked, "Wait of a WaitGroup outside the heap", n)
	for i := 0; i < n; i++ {
		go func() { ww.mark(); o.wg.Wait() }()
	}
	ww.wait()
}
