//go:build go1.24

package main

import (
	"runtime"
	"weak"
)

// AddCleanup (1.24+): the cleanup's function and argument are roots; its
// object is not kept. weak pointers do not keep their target.
func caseCleanup(n int) {
	x := &big{}
	gKeep = append(gKeep, x)
	ch := make(chan int)
	runtime.AddCleanup(x, func(c chan int) { close(c) }, ch)
	receivers("cleanup", "arg", Blocked, "ch is the argument of a cleanup of an object a global keeps", n, ch).wait()
	ch2 := make(chan int)
	runtime.AddCleanup(x, func(int) { close(ch2) }, 0)
	receivers("cleanup", "closure", Blocked, "ch is captured by a cleanup's function", n, ch2).wait()
	ch3 := make(chan int)
	c := runtime.AddCleanup(x, func(c chan int) { close(c) }, ch3)
	c.Stop()
	receivers("cleanup", "stopped", Leaked, "the cleanup was stopped", n, ch3).wait()
}

var gWeak weak.Pointer[holder]

func caseWeak(n int) {
	h := &holder{ch: make(chan int)}
	gWeak = weak.Make(h)
	receivers("weak", "weak_only", Leaked, "only a weak pointer (a global) refers to the holder", n, h.ch).wait()
}

func extraCases() []caseFn {
	return []caseFn{{"cleanup", caseCleanup}, {"weak", caseWeak}}
}
