//go:build go1.25

package main

import (
	"runtime"
	"sync/atomic"
	"time"
)

// A cleanup that never returns (1.25+: cleanups run on their own
// goroutines, not the finalizer's). Its goroutine waits on a channel that
// only the cleanup's argument held. Unlike a finalizer's record in finq
// (cleared after the call: finalizer_queue), the cleanup's entry in its
// block is cleared before the call (mcleanup.go: b.cleanups[i] =
// cleanupFn{}), so only the goroutine's own stack holds the channel: it is
// leaked (Go 1.27's profile says so too).
var gCleanupStuck int64

func caseCleanupQueue(n int) {
	block := make(chan int)
	x := &big{}
	runtime.AddCleanup(x, func(b chan int) {
		atomic.StoreInt64(&gCleanupStuck, myGoid())
		<-b
	}, block)
	x = nil
	deadline := time.Now().Add(30 * time.Second)
	for atomic.LoadInt64(&gCleanupStuck) == 0 {
		runtime.GC()
		if time.Now().After(deadline) {
			fatalf("the cleanup never ran")
		}
		time.Sleep(time.Millisecond)
	}
	waitStatus(atomic.LoadInt64(&gCleanupStuck), "[chan receive")
	acc.Goroutines = append(acc.Goroutines, &G{Goid: atomic.LoadInt64(&gCleanupStuck), Case: "cleanup_queue",
		Group: "stuck_cleanup", Expect: Leaked,
		Why: "a cleanup goroutine waiting on a channel only that cleanup's argument held; the running cleanup's entry is cleared before the call"})
}

func go125Cases() []caseFn { return []caseFn{{"cleanup_queue", caseCleanupQueue}} }
