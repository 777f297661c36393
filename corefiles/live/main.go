// Command live is the target of goparked's live-process tests and pause
// benchmark: it parks -park goroutines on a channel receive, then leaks
// -leak-rate goroutines per second into a second site (a send nobody will
// ever receive), prints READY and waits. The truth the tests compare with
// is what it was told, never what goparked says.
//
//	live -park 100000                  # a still process for the pause
//	live -park 10 -leak-rate 20        # a steady leak at 20 per second
//	live -park 10 -selects 20          # 20 more in a select on 3 channels
//	live -park 10 -labeled 20          # 20 more parked with pprof labels
//	                                   # job=labeled (their labels are
//	                                   # memory outside goparked's copy)
//
// It must build with Go 1.19 to 1.26 (no min/max, no range-over-int).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

var (
	park     = flag.Int("park", 10, "goroutines parked in parkedReceiver")
	leakRate = flag.Float64("leak-rate", 0, "goroutines leaked per second in leakySender")
	busy     = flag.Int("busy", 0, "goroutines spinning (running, preempted)")
	exitIn   = flag.Duration("exit-after", 0, "exit on our own after this long")
	labeled  = flag.Int("labeled", 0, "goroutines parked in labeledReceiver, with pprof labels job=labeled")
	selects  = flag.Int("selects", 0, "goroutines parked in selectThree, a select on three channels")
)

var never = make(chan int)

//go:noinline
func parkedReceiver(c chan int, wg *sync.WaitGroup) {
	wg.Done()
	<-c
}

//go:noinline
func labeledReceiver(c chan int, wg *sync.WaitGroup) {
	pprof.Do(context.Background(), pprof.Labels("job", "labeled"),
		func(context.Context) {
			wg.Done()
			<-c
		})
}

//go:noinline
func selectThree(a, b, c chan int, wg *sync.WaitGroup) {
	wg.Done()
	select {
	case <-a:
	case <-b:
	case c <- 1:
	}
}

//go:noinline
func leakySender(c chan int) {
	c <- 1 // nobody receives: the leak
}

// spin never parks: at every instant it is running or runnable
// (preempted), whatever the machine's load. A sleep in the loop made it
// "waiting" whenever a stop caught it before its timer's late wake-up.
func spin() {
	x := 0
	for {
		x++
	}
}

func main() {
	flag.Parse()
	// Keeps sync.RWMutex in the binary's DWARF, as almost every real
	// program has it (the engine's layout reads its fields).
	var rw sync.RWMutex
	rw.RLock()
	rw.RUnlock()
	cond := sync.NewCond(&rw)
	cond.Broadcast()
	var wg sync.WaitGroup
	wg.Add(*park + *labeled + *selects)
	for i := 0; i < *park; i++ {
		go parkedReceiver(never, &wg)
	}
	for i := 0; i < *labeled; i++ {
		go labeledReceiver(never, &wg)
	}
	// nobody sends on sa or sb, nor receives from sc
	sa, sb, sc := make(chan int), make(chan int), make(chan int)
	for i := 0; i < *selects; i++ {
		go selectThree(sa, sb, sc, &wg)
	}
	wg.Wait()
	for i := 0; i < *busy; i++ {
		go spin()
	}
	if *exitIn > 0 {
		go func() {
			time.Sleep(*exitIn)
			os.Exit(0)
		}()
	}
	fmt.Println("READY")
	os.Stdout.Sync()
	if *leakRate <= 0 {
		for { // a pending timer keeps the runtime's deadlock check away
			time.Sleep(time.Hour)
		}
	}
	// A leak at a steady rate whatever the scheduler's hiccups: the number
	// leaked by time t is rate * t since start.
	leakCh := make(chan int)
	start := time.Now()
	leaked := 0
	for {
		due := int(time.Since(start).Seconds() * *leakRate)
		for leaked < due {
			go leakySender(leakCh)
			leaked++
		}
		time.Sleep(5 * time.Millisecond)
	}
}
