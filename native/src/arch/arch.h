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

struct gp_arch {
	const char *name;          /* "x86-64", as messages say it */
	uint16_t machine;          /* ELF e_machine */
	uint32_t nregs;            /* registers in NT_PRSTATUS and ptrace */
	/* indexes into those registers */
	uint32_t reg_pc, reg_sp, reg_bp, reg_fs_base;
	/* struct elf_prstatus (linux/elfcore.h): pr_cursig, pr_pid, pr_reg */
	uint32_t prstatus_cursig, prstatus_pid, prstatus_reg;
	/* the interrupted context in a signal frame: offsets in struct
	 * ucontext of the saved pc, sp and frame pointer */
	uint32_t uc_pc, uc_sp, uc_bp;
};

/* The architecture of ELF machine machine, or NULL if unsupported. */
const struct gp_arch *gp_arch_find(uint16_t machine);
/* "x86-64", "arm64", "riscv64", ... for any ELF e_machine, in messages. */
const char *gp_machine_name(uint16_t machine);
/* The architectures gp_arch_find knows, for messages ("linux/x86-64"). */
const char *gp_arch_supported_names(void);

extern const struct gp_arch gp_arch_x86_64;

#endif /* GP_ARCH_H */
