package main

// spinHolding is in spin_amd64.s.
func spinHolding(p *holder) *holder

// spinForever is in spin_amd64.s.
func spinForever()
