//go:build !amd64

package main

//go:noinline
func spinHolding(p *holder) *holder {
	for i := 0; i < 1000000 && forever(); i++ {
	}
	return p
}

//go:noinline
func spinForever() {
	for forever() {
	}
}
