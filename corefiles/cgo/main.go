// Command cgo is the cgo fixture: goroutines blocked inside C calls, Go
// callbacks from C on threads locked with LockOSThread, goroutines of
// threads C made itself, and (scenario cgo_crash) a crash inside C. Like
// ../fixture it writes an ACCOUNT of what it parked (JSON), prints READY
// and blocks; corefiles/generate.py then sends SIGQUIT (cgo) or SIGUSR1
// (cgo_crash: a goroutine then stores through NULL in C) with
// GOTRACEBACK=crash, and keeps the core and the runtime's own dump.
//
// It must build with Go 1.19 to 1.27 (see ../fixture/main.go).
package main

/*
#include "cgo.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Group: as in ../fixture/main.go (the fields tests read).
type Group struct {
	Scenario    string  `json:"scenario"`
	Name        string  `json:"group"`
	Description string  `json:"description"`
	WaitFunc    string  `json:"wait_func"`
	CreatorFunc string  `json:"creator_func"`
	State       string  `json:"state"`
	WaitReason  string  `json:"wait_reason"`
	Locked      bool    `json:"locked_to_thread,omitempty"`
	Goids       []int64 `json:"goids"`
}

type Account struct {
	Schema    int      `json:"schema"`
	GoVersion string   `json:"go_version"`
	GOOS      string   `json:"goos"`
	GOARCH    string   `json:"goarch"`
	Pid       int      `json:"pid"`
	N         int      `json:"n"`
	Scenarios []string `json:"scenarios"`
	MainGoid  int64    `json:"main_goid"`
	Groups    []*Group `json:"groups"`
	// cgo_crash: on SIGUSR1 goroutine CrashGoid calls gp_crash (C).
	CrashGoid int64 `json:"crash_goid,omitempty"`
	CrashFunc string `json:"crash_func,omitempty"`
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

// ids collects the goroutine ids of one group, each reported just before
// the goroutine blocks.
type ids struct {
	mu  sync.Mutex
	ids []int64
	wg  sync.WaitGroup
}

func (r *ids) add(id int64) {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	r.wg.Done()
}

var (
	never      = make(chan struct{})
	callbackIn ids
	cThreadIn  ids
)

//export gpGoCallback
func gpGoCallback(i C.int) {
	callbackIn.add(myGoid())
	<-never
}

//export gpFromCThread
func gpFromCThread(i C.int) {
	cThreadIn.add(myGoid())
	<-never
}

//go:noinline
func blockInC(r *ids) {
	r.add(myGoid())
	C.gp_block_in_c()
}

//go:noinline
func lockedCallback(i int) {
	runtime.LockOSThread()
	C.gp_call_back(C.int(i))
}

//go:noinline
func crashInC() {
	C.gp_crash()
}

func main() {
	scenario := flag.String("scenario", "cgo", "cgo or cgo_crash")
	n := flag.Int("n", 3, "goroutines per group")
	accPath := flag.String("account", "", "write the JSON account here")
	flag.Parse()
	if *scenario != "cgo" && *scenario != "cgo_crash" {
		fmt.Fprintf(os.Stderr, "cgo fixture: unknown scenario %q\n", *scenario)
		os.Exit(2)
	}
	acc := &Account{Schema: 1, GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		Pid: os.Getpid(), N: *n, Scenarios: []string{*scenario}, MainGoid: myGoid(), Groups: []*Group{}}

	var inC ids
	inC.wg.Add(*n)
	for i := 0; i < *n; i++ {
		go blockInC(&inC)
	}
	inC.wg.Wait()
	for int(C.gp_blocked_in_c()) < *n { // reported, then really inside C
		time.Sleep(time.Millisecond)
	}
	acc.Groups = append(acc.Groups, &Group{Scenario: *scenario, Name: "in_c",
		Description: "blocked inside a C call (pthread_cond_wait)", WaitFunc: "main._Cfunc_gp_block_in_c",
		CreatorFunc: "main.main", State: "syscall", Goids: inC.ids})

	callbackIn.wg.Add(*n)
	for i := 0; i < *n; i++ {
		go lockedCallback(i)
	}
	callbackIn.wg.Wait()
	acc.Groups = append(acc.Groups, &Group{Scenario: *scenario, Name: "callback_locked",
		Description: "LockOSThread, a C call, C calls back into Go, parked on a channel there",
		WaitFunc: "main.gpGoCallback", CreatorFunc: "main.main", State: "waiting",
		WaitReason: "chan receive", Locked: true, Goids: callbackIn.ids})

	cThreadIn.wg.Add(*n)
	C.gp_start_c_threads(C.int(*n))
	cThreadIn.wg.Wait()
	acc.Groups = append(acc.Groups, &Group{Scenario: *scenario, Name: "c_thread",
		Description: "threads made by C calling into Go, parked on a channel there",
		WaitFunc: "main.gpFromCThread", State: "waiting", WaitReason: "chan receive", Locked: true,
		Goids: cThreadIn.ids})

	if *scenario == "cgo_crash" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		started := make(chan int64)
		go func() {
			started <- myGoid()
			<-usr1
			crashInC()
		}()
		acc.CrashGoid = <-started
		acc.CrashFunc = "main.crashInC"
	}
	waitParked(acc)

	data, err := json.Marshal(acc)
	if err != nil {
		panic(err)
	}
	if *accPath != "" {
		if err := os.WriteFile(*accPath+".tmp", data, 0o644); err != nil {
			panic(err)
		}
		if err := os.Rename(*accPath+".tmp", *accPath); err != nil {
			panic(err)
		}
	} else {
		os.Stdout.Write(append(data, '\n'))
	}
	fmt.Println("READY")
	blockForever()
}

//go:noinline
func blockForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// waitParked: every goroutine of a waiting group shows as parked in
// runtime.Stack(all) (it reported its id just before parking).
func waitParked(acc *Account) {
	want := map[int64]bool{}
	for _, g := range acc.Groups {
		if g.State == "waiting" {
			for _, id := range g.Goids {
				want[id] = true
			}
		}
	}
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := runtime.Stack(buf, true)
		bad := 0
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if !strings.HasPrefix(line, "goroutine ") {
				continue
			}
			f := strings.SplitN(line, " ", 3)
			id, _ := strconv.ParseInt(f[1], 10, 64)
			if want[id] && (strings.HasPrefix(f[2], "[running") || strings.HasPrefix(f[2], "[runnable")) {
				bad++
			}
		}
		if bad == 0 {
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "cgo fixture: %d goroutines not parked after 60s\n", bad)
			os.Exit(2)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
