/*
 * arch/: what differs between processor architectures, one file each
 * (x86_64.c; arm64 is one more file and one more line in gp_arch_find):
 * the registers of a thread as the kernel gives them (core notes, ptrace),
 * where the signal frame keeps the interrupted context, and the decoding of
 * the few instructions the engine reads.
 */
#ifndef GP_ARCH_H
#define GP_ARCH_H

#include "base/base.h"

/* x86-64 user_regs_struct indexes (sys/user.h): the order of the
 * registers in NT_PRSTATUS and of PTRACE_GETREGS. */
enum {
	GP_X86_R15 = 0, GP_X86_R14, GP_X86_R13, GP_X86_R12, GP_X86_RBP,
	GP_X86_RBX, GP_X86_R11, GP_X86_R10, GP_X86_R9, GP_X86_R8, GP_X86_RAX,
	GP_X86_RCX, GP_X86_RDX, GP_X86_RSI, GP_X86_RDI, GP_X86_ORIG_RAX,
	GP_X86_RIP, GP_X86_CS, GP_X86_EFLAGS, GP_X86_RSP, GP_X86_SS,
	GP_X86_FS_BASE, GP_X86_GS_BASE, GP_X86_DS, GP_X86_ES, GP_X86_FS,
	GP_X86_GS, GP_X86_NREGS
};

/* Room for the registers of any architecture (arm64: x0-x30, sp, pc,
 * pstate is 34). */
#define GP_MAX_REGS 34
/* A register the architecture does not have (x86-64's link register). */
#define GP_NO_REG UINT32_MAX


/* ------------------------------------------------------------ code */

/*
 * The few instructions the analyses read (holders.c: who locked a mutex),
 * decoded the same way on every architecture: each file (x86_64.c,
 * arm64.c) turns one machine instruction into one gp_insn of the kinds
 * below, in terms of its registers; code.c builds the control flow of a
 * function and follows register values through it, whatever the
 * architecture. An instruction the decoder understands only partly is
 * GP_INSN_OTHER with every register it may write in clobber: reading too
 * little is never wrong, only weaker.
 */
#define GP_REG_NONE 0xff
#define GP_MAX_ARCH_REGS 32

enum gp_insn_kind {
	GP_INSN_OTHER = 0,   /* writes the registers in clobber, nothing else known */
	GP_INSN_MOV,         /* dst = src */
	GP_INSN_LEA,         /* dst = base + disp (x86 LEA, arm64 ADD imm) */
	GP_INSN_ADDR,        /* dst = target, an absolute address (x86
			      * RIP-relative LEA; arm64 ADRP, ADR) */
	GP_INSN_LOAD,        /* dst = the word at base + disp (base
			      * GP_REG_NONE: at the absolute address target) */
	GP_INSN_STORE,       /* the word at base + disp = src */
	GP_INSN_ATOMIC,      /* an atomic read-modify-write of the word at
			      * base + disp (x86 LOCK CMPXCHG/XADD/...,
			      * arm64 LDAXR..STLXR, CAS*, LDADD*...); dst, if
			      * not GP_REG_NONE, gets the old value */
	GP_INSN_CALL,        /* a direct call of target */
	GP_INSN_CALL_REG,    /* a call through a register or memory */
	GP_INSN_JUMP,        /* to target (unconditional) */
	GP_INSN_BRANCH,      /* to target or the next instruction */
	GP_INSN_JUMP_REG,    /* through a register (jump tables, tail calls):
			      * successors unknown */
	GP_INSN_RET,
	GP_INSN_TRAP,        /* no successor (UD2, INT3, HLT, BRK) */
	GP_INSN_CONST,       /* dst = target, a constant */
	GP_INSN_TEST,        /* sets the flags from src (width bytes) alone:
			      * a following BRANCH with cond tests it */
	GP_INSN_CMP,         /* sets the flags only, comparing the word at
			      * base + disp (or target), or src if no memory
			      * operand (base GP_REG_NONE, target 0), with
			      * imm (has_imm) or a register */
};

/* What a BRANCH tests, when it follows a TEST (x86 JE/JNE; arm64 CBZ and
 * CBNZ are a TEST and a BRANCH in one: give src and cond on the BRANCH) */
enum gp_branch_cond {
	GP_COND_OTHER = 0,
	GP_COND_ZERO = 1,    /* taken if the tested value is zero */
	GP_COND_NONZERO = 2,
};

struct gp_insn {
	uint64_t pc;
	uint64_t target;     /* CALL, JUMP, BRANCH: destination; ADDR, LOAD
			      * from an absolute address: the address */
	int64_t disp;
	uint32_t clobber;    /* other registers written (bit n: register n) */
	uint8_t len;
	uint8_t kind;        /* enum gp_insn_kind */
	uint8_t dst, src, base; /* register numbers, GP_REG_NONE if none */
	uint8_t width;       /* bytes of a memory operand, 0 if unknown */
	uint8_t ldex;        /* arm64: a load-exclusive, the ATOMIC that
			      * begins an exclusive pair (its STLXR, a
			      * STORE, may be skipped by a failed compare) */
	uint8_t noreturn;    /* set by code.c: a call that never returns */
	uint8_t cond;        /* BRANCH: enum gp_branch_cond */
	uint8_t has_imm;     /* STORE of the constant imm; CMP with imm */
	uint8_t page;        /* ADDR: only the 4 KiB page of an address (arm64
			      * ADRP), the next instruction adds the rest */
	int64_t imm;
};

/*
 * Decodes the instruction at code[0..avail) (at address pc) into *ret.
 * Returns its length, or 0 if the bytes are not an instruction this
 * decoder knows (the caller stops: a function it cannot decode gives no
 * code evidence, and says so).
 */
typedef size_t gp_decode_fn(const uint8_t *code, size_t avail, uint64_t pc,
			    struct gp_insn *ret);

/* The Go internal ABI of an architecture, as the code evidence needs it
 * (cmd/compile/abi-internal.md). */
struct gp_arch_abi {
	uint8_t nregs;          /* general registers tracked (< 32) */
	uint8_t sp;             /* the stack pointer's number */
	uint8_t ctxt;           /* the closure context register */
	uint8_t nargs;
	uint8_t args[9];        /* integer argument registers, in order */
	uint32_t call_kept;     /* registers a call does not change (SP, the
				 * frame pointer, the g register) */
	uint8_t asm_tmp;        /* the register Go's assembler forms addresses
				 * in (arm64 R27, REGTMP); GP_REG_NONE if none */
};

struct gp_arch {
	const char *name;          /* "x86-64", as messages say it */
	uint16_t machine;          /* ELF e_machine */
	uint32_t nregs;            /* registers in NT_PRSTATUS and ptrace */
	/* indexes into those registers; GP_NO_REG for none */
	uint32_t reg_pc, reg_sp, reg_bp, reg_fs_base, reg_lr, reg_g;
	/* A link-register machine (runtime/sys usesLR): a call leaves the
	 * return address in LR, which the callee's prologue saves at its own
	 * sp; fp = sp + spdelta. Otherwise CALL pushes it: at fp - 8, and
	 * fp = sp + spdelta + 8 (runtime/traceback.go unwinder). */
	bool uses_lr;
	/* runtime/malloc.go arenaBaseOffset: where the heap's arena index
	 * starts (amd64's addresses are signed 48-bit) */
	uint64_t arena_base_offset;
	/* R_<arch>_RELATIVE, the relocation of a PIE's own pointers */
	uint32_t relative_reloc;
	/* What sighandler's injected call (sigpanic, asyncPreempt) pushes
	 * below the interrupted sp on a link-register machine:
	 * alignUp(sys.MinFrameSize, sys.StackAlign); 0 elsewhere. */
	uint32_t injected_frame;
	/* struct elf_prstatus (linux/elfcore.h): pr_cursig, pr_pid, pr_reg */
	uint32_t prstatus_cursig, prstatus_pid, prstatus_reg;
	/* the interrupted context in a signal frame: offsets in struct
	 * ucontext of the saved pc, sp, frame pointer and link register
	 * (GP_NO_REG if none) */
	uint32_t uc_pc, uc_sp, uc_bp, uc_lr;
	/* Where the ucontext is, from the fp of runtime.sigtramp's frame
	 * (= the sp the kernel gave the handler): after siginfo on arm64.
	 * How the frame is recognised: a restorer's address just below it
	 * (x86-64: sa_restorer = runtime.sigreturn*), or a magic word at
	 * uc_magic in the ucontext (arm64: the FPSIMD record's header). */
	uint32_t sigframe_uc;
	bool sigframe_restorer;
	uint32_t uc_magic_off, uc_magic;
	/* Instruction decoding. next_call: the first direct call at or
	 * after code[*off] (of len bytes at address pc0): its target in
	 * *ret and *off past it; false when there is none. */
	bool (*next_call)(const uint8_t *code, size_t len, uint64_t pc0,
			  size_t *off, uint64_t *ret);
	/* code evidence (code.c); decode NULL where the architecture has no
	 * decoder yet (then holders are "unknown", saying why) */
	gp_decode_fn *decode;
	struct gp_arch_abi abi;
	/* Where the ucontext keeps each register (offsets, in the order
	 * above; 0 for one it does not keep): the interrupted context in
	 * full, for unwinding C code through its CFI */
	uint16_t uc_regs[GP_MAX_REGS];
	/* DWARF register numbers 0..ndwarf-1 (the psABI's, as libdw's
	 * unwinder wants them): the index of each in the registers above
	 * (the pc is given to libdw apart) */
	uint8_t ndwarf;
	uint8_t dwarf_regs[GP_MAX_REGS];
};

/*
 * code.c: a function's control flow and the values its registers and
 * stack slots hold, followed through it (a forward dataflow: a register
 * keeps a value only if every path to the instruction gives it that
 * value). A value is symbolic: a root, then up to GP_VAL_MAX_LOADS loads
 * (load i reads the word at the value so far + off[i]), then + add.
 */
enum gp_val_root {
	GP_VAL_UNKNOWN = 0,
	GP_VAL_ABS,          /* the absolute address base (a global) */
	GP_VAL_STACK,        /* the address entry_sp + base, entry_sp being
			      * the stack pointer the function was called
			      * with (x86: where its return address is) */
	GP_VAL_ARG,          /* integer argument register number base, as
			      * the function was called */
	GP_VAL_CTXT,         /* the closure context, as it was called */
	GP_VAL_CONST,        /* the number base */
	GP_VAL_DEF,          /* what the instruction at base produced when it
			      * last ran (a call's first result; base + 1:
			      * its second) */
};

#define GP_VAL_MAX_LOADS 2

struct gp_val {
	int64_t base;
	int64_t off[GP_VAL_MAX_LOADS];
	int64_t add;
	uint8_t root;        /* enum gp_val_root */
	uint8_t nloads;
	uint8_t pad[6];
};

/* A stack slot whose content is known: entry_sp + off holds val. */
struct gp_slot {
	int64_t off;
	struct gp_val val;
};

#define GP_CODE_SLOTS 16

/* What is known at one instruction. */
struct gp_code_state {
	struct gp_val reg[GP_MAX_ARCH_REGS];
	struct gp_slot slot[GP_CODE_SLOTS];
	uint32_t nslots;
	bool reached;        /* some path from the entry leads here */
};

/* The instructions the analyses look at, with their operands' values. */
struct gp_code_event {
	uint64_t pc;
	uint64_t target;     /* CALL: the callee */
	struct gp_val addr;  /* ATOMIC: the word's address; CALL, CALL_REG:
			      * the first integer argument */
	struct gp_val args[3]; /* CALL, CALL_REG: the first integer arguments */
	uint32_t block;
	uint8_t kind;        /* GP_INSN_ATOMIC, _CALL, _CALL_REG */
	uint8_t len;
	uint8_t pad[2];
};

struct gp_code_block {
	uint64_t start, end;     /* [start, end) */
	uint32_t succ[2];        /* GP_NONE if none */
	uint32_t first_insn, ninsns;
	uint32_t first_event, nevents;
	/* where succ[k] leads when the successor only tests a register
	 * this block leaves constant (x86: a bool merged, then JNE): the
	 * branch's taken or fallen-through block, else GP_NONE. Such
	 * threaded edges make paths that depend on a TryLock's result
	 * separate. */
	uint32_t thru[2];
	bool unknown_succ;       /* ends in a jump through a register */
};

/* SP delta at pc: how far below the entry stack pointer SP is (the
 * pclntab's pcsp table); INT32_MIN if unknown. */
typedef int32_t gp_spdelta_fn(void *arg, uint64_t pc);
/* Whether a call of target never returns (panics, os.Exit...). */
typedef bool gp_noreturn_fn(void *arg, uint64_t target);

struct gp_code {
	const struct gp_arch *arch;
	uint64_t entry, end;
	struct gp_insn *insns;     /* in address order */
	size_t ninsns;
	struct gp_code_block *blocks;
	size_t nblocks;
	struct gp_code_event *events;
	size_t nevents;
	struct gp_code_state *in;  /* per block, converged */
	uint64_t undecoded;        /* first pc not decoded, 0 if all was */
	bool unknown_jumps;        /* some block's successors are unknown */
	gp_spdelta_fn *spdelta;
	void *spdelta_arg;
};

/*
 * Decodes [entry, entry + len) (code must stay valid while ret is used)
 * and follows values through it (spdelta and noreturn may be NULL; arg
 * is theirs). A call that never returns ends its block; the jump back to
 * the entry after a stack growth (runtime.morestack) is no edge: the
 * function is re-entered with its arguments as they were.
 * GP_ERROR_UNSUPPORTED if the architecture
 * has no decoder. A function only partly decoded (bytes the decoder does
 * not know) keeps what came before them; undecoded says where it stopped.
 */
gp_error *gp_code_analyze(const struct gp_arch *arch, const uint8_t *code,
			  uint64_t entry, size_t len, gp_spdelta_fn *spdelta,
			  gp_noreturn_fn *noreturn, void *arg,
			  struct gp_code *ret);
void gp_code_deinit(struct gp_code *c);
/*
 * Every decoded instruction in address order, with what is known just
 * before it (a block no path reaches: nothing); addr gets the address of
 * its memory operand (LOAD, STORE, ATOMIC, CMP), the value it makes
 * (ADDR, LEA), the first argument (CALL, CALL_REG), else unknown; val the
 * value a STORE writes. fn returns false to stop.
 */
typedef bool gp_code_walk_fn(void *arg, const struct gp_insn *in,
			     const struct gp_val *addr, const struct gp_val *val);
void gp_code_walk(const struct gp_code *c, gp_code_walk_fn *fn, void *arg);
/* The decoded instruction at pc, NULL if none starts there. */
const struct gp_insn *gp_code_insn_at(const struct gp_code *c, uint64_t pc);
/* Whether an instruction starts at pc. */
bool gp_code_is_insn(const struct gp_code *c, uint64_t pc);
/* The block holding pc, GP_NONE if none. */
uint32_t gp_code_block_of(const struct gp_code *c, uint64_t pc);
/* The state just before the instruction at pc (a decoded instruction
 * start); false if no path from the entry reaches it. */
bool gp_code_state_at(const struct gp_code *c, uint64_t pc,
		      struct gp_code_state *ret);
/* The instruction that ends just before pc (the call a return address
 * follows), false if none was decoded there. */
bool gp_code_insn_before(const struct gp_code *c, uint64_t pc,
			 struct gp_insn *ret);
/* The value of the word at v + off (one more load), unknown past
 * GP_VAL_MAX_LOADS; and v + d. */
struct gp_val gp_val_load(struct gp_val v, int64_t off);
struct gp_val gp_val_add(struct gp_val v, int64_t d);
static inline bool gp_val_eq(const struct gp_val *a, const struct gp_val *b)
{
	return a->root == b->root && a->root != GP_VAL_UNKNOWN &&
	       a->base == b->base && a->nloads == b->nloads &&
	       a->add == b->add &&
	       (a->nloads < 1 || a->off[0] == b->off[0]) &&
	       (a->nloads < 2 || a->off[1] == b->off[1]);
}



/* The architecture of ELF machine machine, or NULL if unsupported. */
const struct gp_arch *gp_arch_find(uint16_t machine);
/* The architecture this engine runs on (whose registers ptrace gives). */
const struct gp_arch *gp_arch_host(void);
/* "x86-64", "arm64", "riscv64", ... for any ELF e_machine, in messages. */
const char *gp_machine_name(uint16_t machine);
/* The architectures gp_arch_find knows, for messages ("linux/x86-64"). */
const char *gp_arch_supported_names(void);

extern const struct gp_arch gp_arch_x86_64;
extern const struct gp_arch gp_arch_arm64;

#endif /* GP_ARCH_H */
