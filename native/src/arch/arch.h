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

/* One atomic operation on memory found in code (arch find_lock_sites). */
struct gp_lock_site {
	uint64_t pc;
	int64_t disp;       /* [base + disp] */
	int64_t slot;       /* sp offset the base register was last moved
			     * from or to, -1 if unknown */
	uint64_t abs;       /* the absolute address (a global), 0 if
			     * register-based */
	bool xadd;          /* an atomic add (Unlock; RLock) rather than a
			     * compare-and-swap (Lock) */
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
	/* The inlined Lock/Unlock fast paths of internal/sync/mutex.go and
	 * sync/rwmutex.go in code[0, len) at address start: an atomic
	 * compare-and-swap (lock) or add (Unlock, RLock) on [base + disp],
	 * base linked to a stack slot or an absolute (global) address.
	 * NULL where not implemented (the evidence then says so). */
	size_t (*find_lock_sites)(const uint8_t *code, uint64_t start,
				  size_t len, struct gp_lock_site *ret,
				  size_t max);
};

/* The architecture of ELF machine machine, or NULL if unsupported. */
const struct gp_arch *gp_arch_find(uint16_t machine);
/* "x86-64", "arm64", "riscv64", ... for any ELF e_machine, in messages. */
const char *gp_machine_name(uint16_t machine);
/* The architectures gp_arch_find knows, for messages ("linux/x86-64"). */
const char *gp_arch_supported_names(void);

extern const struct gp_arch gp_arch_x86_64;
extern const struct gp_arch gp_arch_arm64;

#endif /* GP_ARCH_H */
