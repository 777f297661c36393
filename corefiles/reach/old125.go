//go:build !go1.25

package main

func go125Cases() []caseFn { return nil }
