// The program native/gen/gen_tables.py builds with each Go toolchain to
// read the runtime's layout from its DWARF. The runtime's types are in the
// DWARF of any Go program; this one also parks goroutines on a channel, a
// mutex, an RWMutex, a Cond, a WaitGroup and a timer: DWARF describes only
// the types a program links, and the engine reads all of these.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

func main() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var rw sync.RWMutex
	cond := sync.NewCond(&sync.Mutex{})
	c := make(chan int)
	mu.Lock()
	wg.Add(1)
	go func() { <-c }()
	go func() { mu.Lock() }()
	go func() { wg.Wait() }()
	go func() { time.Sleep(time.Hour) }()
	rw.Lock()
	go func() { rw.RLock() }()
	go func() { cond.L.Lock(); cond.Wait() }()
	select {
	case <-c:
	case <-time.After(time.Millisecond):
	}
	fmt.Fprintln(os.Stderr, "probe: built to be read, not run")
}
