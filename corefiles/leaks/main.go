// Command leaks parks goroutines whose fate is known in advance: leaked
// (nothing that can still run can ever reach what they wait on), leaked with
// no waker (what they wait on is reachable, but no goroutine can ever do the
// waking operation), lingering (they wake up now and then and loop forever)
// or blocked (they can still be woken). It writes an ACCOUNT of every
// goroutine it parked, with that expectation, and of the true holders of the
// mutexes of the `holders` case; prints READY and blocks.
//
// On a runtime that has the goroutine leak detector (Go 1.27, or 1.26 built
// with GOEXPERIMENT=goroutineleakprofile) it asks it, just before READY, for
// pprof.Lookup("goroutineleak") and records which goroutines the runtime
// found leaked: that is the oracle of "leaked (proven)". Taking the profile
// leaves the leaked goroutines in status _Gleaked in the core; run with
// -leakprofile=false for a core where the runtime has not looked.
//
// corefiles/leakgen.py builds it with each toolchain, sends SIGQUIT with
// GOTRACEBACK=crash and keeps the core, the runtime's dump and the account.
// Cases are listed in cases.go (TABLE) and corefiles/leaks/README.rst.
//
// It must build with Go 1.19 to 1.27: no min/max builtins, no range over
// int, no per-iteration loop variables (closures get values as arguments).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Expectations, in the words of goparked's verdict.
const (
	Leaked    = "leaked"    // leaked (proven): no wait object reachable from what can still run
	NoWaker   = "no_waker"  // reachable, but nothing that can run will ever do the waking operation
	Lingering = "lingering" // wakes up (timer) and loops forever on things that can never become ready
	Blocked   = "blocked"   // can still be woken
)

// Obj is one object a goroutine waits on or holds.
type Obj struct {
	Kind  string `json:"kind"`           // chan, mutex, rwmutex, waitgroup, cond, timer, ticker, ctx, netconn
	Addr  string `json:"addr"`           // %p of the channel / &mutex / &wg / &cond; "0x0" for nil
	Role  string `json:"role,omitempty"` // recv, send, lock, rlock, wait, holds, rholds
	Via   string `json:"via,omitempty"`  // how it stays reachable: global NAME, main stack, goroutine G ...
	Extra string `json:"extra,omitempty"`
}

// G is one goroutine the program parked (or expects parked).
type G struct {
	Goid       int64  `json:"goid"`
	Case       string `json:"case"`
	Group      string `json:"group"`
	Expect     string `json:"expect"` // Leaked | NoWaker | Lingering | Blocked
	Why        string `json:"why"`
	WaitFunc   string `json:"wait_func"` // first main.* frame from the top of its stack
	Creator    string `json:"creator"`   // the function whose go statement made it
	WaitReason string `json:"wait_reason"`
	Objects    []Obj  `json:"objects,omitempty"`
}

// Profile is what the runtime's goroutine leak detector said.
type Profile struct {
	Available bool    `json:"available"`
	Reason    string  `json:"reason,omitempty"` // why not available
	Count     int     `json:"count"`            // Profile.Count() after the last detection
	Leaked    []int64 `json:"leaked_goids"`     // "goroutine N [leaked, ...]" in the debug=2 output
	Debug1    string  `json:"debug1"`           // the profile with debug=1 (stacks, counted)
	Debug2    string  `json:"debug2"`           // debug=2: every goroutine, "[<reason> (leaked)]" for the leaked
	TakenNs   int64   `json:"taken_unix_ns"`
}

// Case is one row of the account's case list.
type CaseInfo struct {
	Name    string `json:"name"`
	Pattern string `json:"pattern"`
	Source  string `json:"source"`
	Desc    string `json:"description"`
}

type Account struct {
	Schema        int        `json:"schema"`
	Program       string     `json:"program"`
	GoVersion     string     `json:"go_version"`
	GoMinor       int        `json:"go_minor"`
	GOARCH        string     `json:"goarch"`
	Pid           int        `json:"pid"`
	N             int        `json:"n"`
	Cases         []CaseInfo `json:"cases"`
	MainGoid      int64      `json:"main_goid"`
	MainWaitFunc  string     `json:"main_wait_func"`
	Goroutines    []*G       `json:"goroutines"`
	Mutexes       []*Mutex   `json:"mutexes"`
	Profile       *Profile   `json:"runtime_leak_profile"`
	ParkCheck     string     `json:"park_check"`
	NumGoroutines int        `json:"num_goroutines"`
}

// mainStack is kept live on main's stack until the core is taken (see
// main: runtime.KeepAlive after blockForever). Cases put here what "main
// still holds".
type mainStack struct {
	keep []interface{}
}

// reg collects goroutine ids: goroutine i stores its id in ids[i] and calls
// wg.Done() just before it parks. Goroutines that are expected to finish
// (the senders that fit in a buffer) call finish(i) when they get through.
type reg struct {
	ids      []int64
	fin      []int32
	finished int32
	wg       sync.WaitGroup
}

func newReg(n int) *reg {
	r := &reg{ids: make([]int64, n), fin: make([]int32, n)}
	r.wg.Add(n)
	return r
}

func (r *reg) done(i int) {
	r.ids[i] = myGoid()
	r.wg.Done()
}

func (r *reg) finish(i int) {
	atomic.StoreInt32(&r.fin[i], 1)
	atomic.AddInt32(&r.finished, 1)
}

// group is a set of goroutines of one case with one wait function and one
// expectation.
type group struct {
	b      *builder
	name   string
	expect string
	why    string
	wait   string
	create string
	reason string
	r      *reg
	objs   []Obj
	gs     []*G
}

type builder struct {
	acc  *Account
	n    int
	name string
	main *mainStack
}

func (b *builder) group(name, expect, waitFunc, creator, reason, why string, n int) *group {
	return &group{b: b, name: name, expect: expect, why: why, wait: waitFunc, create: creator,
		reason: reason, r: newReg(n)}
}

// parked waits until every goroutine of the group reported its id, then
// records them all.
func (g *group) parked() *group {
	g.r.wg.Wait()
	for _, id := range g.r.ids {
		g.add(id)
	}
	return g
}

// parkedBut waits until every goroutine reported its id and exactly
// `through` of them got through (called finish); the others are recorded.
func (g *group) parkedBut(through int) *group {
	g.r.wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for atomic.LoadInt32(&g.r.finished) < int32(through) {
		if time.Now().After(deadline) {
			fatalf("%s/%s: only %d of %d got through", g.b.name, g.name, atomic.LoadInt32(&g.r.finished), through)
		}
		time.Sleep(time.Millisecond)
	}
	for i, id := range g.r.ids {
		if atomic.LoadInt32(&g.r.fin[i]) == 0 {
			g.add(id)
		}
	}
	return g
}

func (g *group) add(id int64) *G {
	x := &G{Goid: id, Case: g.b.name, Group: g.name, Expect: g.expect, Why: g.why, WaitFunc: g.wait,
		Creator: g.create, WaitReason: g.reason, Objects: g.objs}
	g.gs = append(g.gs, x)
	g.b.acc.Goroutines = append(g.b.acc.Goroutines, x)
	return x
}

// with sets the objects shared by the group's goroutines (before parked()).
func (g *group) with(objs ...Obj) *group {
	g.objs = objs
	for _, x := range g.gs {
		x.Objects = objs
	}
	return g
}

// myGoid parses "goroutine 123 [running]:" from runtime.Stack, with the
// buffer on the caller's stack.
func myGoid() int64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	b := bytes.TrimPrefix(buf[:n], []byte("goroutine "))
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		panic("cannot parse goroutine id from " + string(buf[:n]))
	}
	id, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil {
		panic(err)
	}
	return id
}

var goMinor = func() int {
	v := runtime.Version()
	if !strings.HasPrefix(v, "go1.") {
		return 99
	}
	v = v[4:]
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	m, _ := strconv.Atoi(v[:end])
	return m
}()

// Wait reasons as the runtime prints them (runtime2.go waitReasonStrings).
func reasonMutex() string {
	if goMinor < 20 {
		return "semacquire"
	}
	return "sync.Mutex.Lock"
}

func reasonRLock() string {
	if goMinor < 20 {
		return "semacquire"
	}
	return "sync.RWMutex.RLock"
}

func reasonWLock() string {
	if goMinor < 20 {
		return "semacquire"
	}
	return "sync.RWMutex.Lock"
}

func reasonWaitGroup() string {
	if goMinor < 24 {
		return "semacquire"
	}
	return "sync.WaitGroup.Wait"
}

func addr(p interface{}) string { return fmt.Sprintf("%p", p) }

func main() {
	var (
		cases   = flag.String("scenario", "all", "comma-separated case names, or all")
		n       = flag.Int("n", 2, "goroutines per group (cases with a fixed count ignore it)")
		accPath = flag.String("account", "", "write the JSON account here (default: stdout before READY)")
		list    = flag.Bool("list", false, "print the case table as JSON and exit")
		profile = flag.Bool("leakprofile", true, "ask the runtime's goroutine leak detector before READY (when it has one)")
		heap    = flag.String("heapdump", "", "write the runtime's heap dump (debug.WriteHeapDump) here just before READY")
	)
	flag.Parse()
	if *list {
		out := make([]CaseInfo, 0, len(TABLE))
		for _, c := range TABLE {
			out = append(out, c.info())
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return
	}
	if *n < 1 {
		fatalf("-n must be >= 1")
	}
	acc := &Account{Schema: 1, Program: "leaks", GoVersion: runtime.Version(), GoMinor: goMinor,
		GOARCH: runtime.GOARCH, Pid: os.Getpid(), N: *n, MainGoid: myGoid(),
		MainWaitFunc: "main.blockForever", Goroutines: []*G{}, Mutexes: []*Mutex{}}
	ms := &mainStack{}
	var names []string
	for _, name := range strings.Split(*cases, ",") {
		if name != "all" {
			names = append(names, name)
			continue
		}
		for _, c := range TABLE {
			names = append(names, c.Name)
		}
	}
	for _, name := range names {
		c := lookup(name)
		if c == nil {
			fatalf("unknown case %q", name)
		}
		acc.Cases = append(acc.Cases, c.info())
		c.Run(&builder{acc: acc, n: *n, name: name, main: ms})
	}
	acc.ParkCheck = waitAllParked(acc)
	// Two GCs so that every parked goroutine has its waitsince stamped
	// (the runtime prints "N minutes" from it), as the main fixture does.
	runtime.GC()
	runtime.GC()
	if *profile {
		acc.Profile = leakProfile()
	} else {
		acc.Profile = &Profile{Reason: "not asked (-leakprofile=false)"}
	}
	acc.NumGoroutines = runtime.NumGoroutine()
	data, err := json.Marshal(acc)
	if err != nil {
		fatalf("marshal: %v", err)
	}
	acc = nil
	if *accPath != "" {
		tmp := *accPath + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			fatalf("write account: %v", err)
		}
		if err := os.Rename(tmp, *accPath); err != nil {
			fatalf("rename account: %v", err)
		}
	} else {
		os.Stdout.Write(append(data, '\n'))
	}
	data = nil
	// READY (and the heap dump) come from another goroutine once main
	// sleeps: main's sleep timer is then in place, and nothing allocates
	// between the dump and the core (that goroutine exits).
	go readyWhenMainSleeps(myGoid(), *heap)
	blockForever()
	runtime.KeepAlive(ms)
}

// readyWhenMainSleeps waits until main (goroutine mainGoid) sleeps in
// blockForever, writes the heap dump if asked, prints READY and exits.
func readyWhenMainSleeps(mainGoid int64, heapPath string) {
	waitStatus(mainGoid, "[sleep")
	ready := []byte("READY\n")
	if heapPath != "" {
		writeHeapDump(heapPath)
	}
	os.Stdout.Write(ready)
}

// writeHeapDump writes the runtime's own heap dump (runtime/heapdump.go:
// every allocated object with its pointer words, the globals, every
// goroutine's frames with their stack maps, the finalizers): the heap
// model's independent oracle. The collector is switched off first and a
// last GC finishes sweeping, so that no slot changes between the dump and
// the core; nothing allocates after it (READY is written from a buffer
// made before). Not after the leak profile: the runtime's dumpgs throws
// on a _Gleaked goroutine (1.26, 1.27).
func writeHeapDump(path string) {
	f, err := os.Create(path)
	if err != nil {
		fatalf("heap dump: %v", err)
	}
	debug.SetGCPercent(-1)
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	if err := f.Close(); err != nil {
		fatalf("heap dump: %v", err)
	}
}

// blockForever keeps main parked in "sleep" (not a leak candidate: its
// stack is a root for the runtime's detector). The pending timer also keeps
// the runtime's deadlock detector (checkdead) quiet.
//
//go:noinline
func blockForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// leakProfile asks the runtime's detector (a GC cycle that marks from the
// goroutines that can still run). debug=2 is runtime.Stack(all) after that
// cycle: leaked goroutines print as "goroutine N [<reason> (leaked)]". It is
// taken last so that the core shows the statuses that cycle left.
func leakProfile() *Profile {
	p := pprof.Lookup("goroutineleak")
	if p == nil {
		return &Profile{Reason: "no goroutineleak profile in " + runtime.Version()}
	}
	out := &Profile{Available: true, Leaked: []int64{}}
	var b1, b2 bytes.Buffer
	if err := p.WriteTo(&b1, 1); err != nil {
		fatalf("goroutineleak debug=1: %v", err)
	}
	if err := p.WriteTo(&b2, 2); err != nil {
		fatalf("goroutineleak debug=2: %v", err)
	}
	out.Count = p.Count()
	out.Debug1 = b1.String()
	out.Debug2 = b2.String()
	out.TakenNs = time.Now().UnixNano()
	for _, line := range strings.Split(out.Debug2, "\n") {
		if !strings.HasPrefix(line, "goroutine ") {
			continue
		}
		// "goroutine 19 [sync.Mutex.Lock (leaked)]:" (traceback.go goroutineheader)
		f := strings.SplitN(line, " ", 3)
		i := strings.IndexByte(line, '[')
		if len(f) == 3 && i >= 0 && strings.Contains(line[i:], " (leaked)") {
			id, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				out.Leaked = append(out.Leaked, id)
			}
		}
	}
	sort.Slice(out.Leaked, func(i, j int) bool { return out.Leaked[i] < out.Leaked[j] })
	return out
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "leaks: "+format+"\n", args...)
	os.Exit(2)
}

// stackStatus returns the "[...]" header of every goroutine, by goid.
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
		id, err := strconv.ParseInt(f[1], 10, 64)
		if err == nil && len(f) == 3 {
			out[id] = f[2]
		}
	}
	return out
}

// waitStatus waits until goroutine id is parked with a status containing
// one of the words.
func waitStatus(id int64, words ...string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := stackStatus()[id]
		for _, w := range words {
			if strings.Contains(st, w) {
				return
			}
		}
		if time.Now().After(deadline) {
			fatalf("goroutine %d not in %v after 30s (status %q)", id, words, st)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitAllParked makes sure that no accounted goroutine is still running or
// runnable (each reported its id just before its parking operation).
func waitAllParked(acc *Account) string {
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
			return "runtime.Stack(all): every accounted goroutine parked"
		}
		if time.Now().After(deadline) {
			fatalf("%d goroutines still not parked after 60s", bad)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
