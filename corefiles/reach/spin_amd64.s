#include "textflag.h"

// func spinHolding(p *holder) *holder
//
// Spins some 20 ms with p only in AX (its argument and result
// slots are cleared), then returns it. Assembly is never a safe point for an
// asynchronous preemption: a core written meanwhile has the goroutine
// running, and p only in the registers the signal handler's ucontext
// saved.
TEXT ·spinHolding(SB), NOSPLIT, $0-16
	MOVQ	p+0(FP), AX
	MOVQ	$0, p+0(FP)
	MOVQ	$0, ret+8(FP)
	MOVQ	$50000000, CX
loop:
	MOVL	·never(SB), DX
	TESTL	DX, DX
	JNE	done
	DECQ	CX
	JNZ	loop
done:
	MOVQ	AX, ret+8(FP)
	RET

// func spinForever()
//
// Spins until never is set (never), with no preemption point.
TEXT ·spinForever(SB), NOSPLIT, $0-0
again:
	MOVL	·never(SB), DX
	TESTL	DX, DX
	JEQ	again
	RET
