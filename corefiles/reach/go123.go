//go:build go1.23

package main

import "iter"

// An abandoned iter.Pull: its coroutine goroutine waits with reason
// "coroutine", which the detector never judges: its stack is a root, and
// what the iterator's body holds stays reachable (semantically leaked:
// next and stop are dropped).
func caseCoroutine(n int) {
	ch := make(chan int)
	next, stop := iter.Pull(func(yield func(int) bool) {
		yield(1)
		yield(2)
		close(ch)
	})
	next()
	_ = stop
	receivers("coroutine", "abandoned_pull", Blocked,
		"ch is held by an abandoned iter.Pull's body, parked in a coroutine switch (a root for the detector)", n, ch).wait()
}

func caseCoroutineCases() []caseFn { return []caseFn{{"coroutine", caseCoroutine}} }
