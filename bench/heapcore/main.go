// heapcore parks N goroutines in the leak verdict's shapes over a heap of
// several GB, for bench/bench_verdict.py (goparked's verdict marks the
// whole heap; the grouped views never read it). It prints READY and
// sleeps; bench/make_core.py --heapcore takes the core with gcore.
//
// Shapes, N/5 goroutines each:
//   - leaked: a receive on a channel nothing else holds (leaked (proven));
//   - blocked: a receive on a channel kept in a global slice;
//   - mutex: Lock of a global mutex held by a sleeping goroutine (blocked);
//   - sleep: time.Sleep (blocked: a timer wakes it);
//   - lingering: a select on a ticker and context.Background().Done().
//
// The heap: every goroutine keeps a session (pointers) and a buffer of
// -buf bytes (no pointers); a global list of -nodes nodes, each with a
// buffer of -nodebuf bytes and pointers to other nodes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

type session struct {
	id    int
	buf   []byte
	peer  *session
	owner *node
}

type node struct {
	next *node
	refs [4]*node
	data []byte
}

var (
	gChans []chan int
	gMu    sync.Mutex
	gNodes *node
	gAll   []*node
)

func leaked(s *session, ready *sync.WaitGroup) {
	c := make(chan int)
	ready.Done()
	<-c
	_ = s
}

func blocked(s *session, c chan int, ready *sync.WaitGroup) {
	ready.Done()
	<-c
	_ = s
}

func mutexWaiter(s *session, ready *sync.WaitGroup) {
	ready.Done()
	gMu.Lock()
	_ = s
	gMu.Unlock()
}

func sleeper(s *session, ready *sync.WaitGroup) {
	ready.Done()
	time.Sleep(time.Hour)
	_ = s
}

func lingering(s *session, ready *sync.WaitGroup) {
	ctx := context.Background()
	t := time.NewTicker(time.Hour)
	ready.Done()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func main() {
	n := flag.Int("n", 1000000, "goroutines")
	buf := flag.Int("buf", 2048, "bytes of each goroutine's buffer")
	nodes := flag.Int("nodes", 500000, "nodes of the global list")
	nodebuf := flag.Int("nodebuf", 2048, "bytes of each node's buffer")
	flag.Parse()

	gAll = make([]*node, *nodes)
	for i := range gAll {
		gAll[i] = &node{data: make([]byte, *nodebuf)}
		if i > 0 {
			gAll[i-1].next = gAll[i]
		}
	}
	for i, x := range gAll {
		for k := range x.refs {
			x.refs[k] = gAll[(i*7+k*131)%len(gAll)]
		}
	}
	gNodes = gAll[0]

	gMu.Lock()
	go func() { // holds gMu while it sleeps
		time.Sleep(24 * time.Hour)
		gMu.Unlock()
	}()

	var ready sync.WaitGroup
	ready.Add(*n)
	per := *n / 5
	for i := 0; i < *n; i++ {
		s := &session{id: i, buf: make([]byte, *buf)}
		if len(gAll) > 0 {
			s.owner = gAll[i%len(gAll)]
		}
		switch i / per {
		case 0:
			go leaked(s, &ready)
		case 1:
			c := make(chan int)
			gChans = append(gChans, c)
			go blocked(s, c, &ready)
		case 2:
			go mutexWaiter(s, &ready)
		case 3:
			go sleeper(s, &ready)
		default:
			go lingering(s, &ready)
		}
	}
	ready.Wait()
	time.Sleep(2 * time.Second) // let them park
	fmt.Println("READY")
	time.Sleep(24 * time.Hour)
	os.Exit(0)
}
