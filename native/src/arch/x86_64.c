/*
 * linux/amd64.
 */
#include <elf.h>

#include "arch/arch.h"

/* Linux amd64 struct ucontext: uc_flags, uc_link, uc_stack (40 bytes),
 * then mcontext gregs r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip
 * (runtime/defs_linux_amd64.go, sys/ucontext.h). */
#define UC_MCONTEXT 40

/* CALL rel32 (E8): a byte search, not a disassembly; a false match must
 * also land on a function's entry to count. */
static bool next_call(const uint8_t *code, size_t len, uint64_t pc0,
		      size_t *off, uint64_t *ret)
{
	for (size_t i = *off; i + 5 <= len; i++) {
		if (code[i] != 0xe8)
			continue;
		*ret = pc0 + i + 5 +
		       (uint64_t)(int64_t)(int32_t)gp_load(code + i + 1, 4);
		*off = i + 5;
		return true;
	}
	*off = len;
	return false;
}

const struct gp_arch gp_arch_x86_64 = {
	.name = "x86-64",
	.machine = EM_X86_64,
	.nregs = GP_X86_NREGS,
	.reg_pc = GP_X86_RIP,
	.reg_sp = GP_X86_RSP,
	.reg_bp = GP_X86_RBP,
	.reg_fs_base = GP_X86_FS_BASE,
	.reg_lr = GP_NO_REG,
	.reg_g = GP_NO_REG,       /* g is in TLS (fs_base - 8), not a register */
	.uses_lr = false,
	.injected_frame = 0,
	/* struct elf_prstatus on x86-64 */
	.prstatus_cursig = 12,
	.prstatus_pid = 32,
	.prstatus_reg = 112,
	.uc_pc = UC_MCONTEXT + 16 * 8,
	.uc_sp = UC_MCONTEXT + 15 * 8,
	.uc_bp = UC_MCONTEXT + 10 * 8,
	.uc_lr = GP_NO_REG,
	/* sigtramp is entered with sp at sa_restorer's return address,
	 * the ucontext right above it */
	.sigframe_uc = 0,
	.sigframe_restorer = true,
	.next_call = next_call,
	.no_lock_sites = NULL,
};
