/*
 * linux/arm64. Facts from ../shared/ARM64.md, each checked here against
 * the Go sources (1.19, 1.26, 1.27), the kernel/glibc headers compiled for
 * aarch64 and real qemu-aarch64 cores.
 */
#include <elf.h>

#include "arch/arch.h"

/* struct user_pt_regs (asm/ptrace.h): x0-x30, sp, pc, pstate; the order
 * of NT_PRSTATUS's pr_reg and of PTRACE_GETREGSET NT_PRSTATUS. */
enum { ARM64_X28 = 28, ARM64_FP = 29, ARM64_LR = 30, ARM64_SP = 31,
       ARM64_PC = 32, ARM64_NREGS = 34 };

/* struct ucontext (asm/ucontext.h): uc_flags, uc_link, uc_stack,
 * uc_sigmask, padding to 128 bytes of signal mask, then uc_mcontext
 * (struct sigcontext, 16-aligned) at 176: fault_address, regs[31], sp,
 * pc, pstate, then __reserved at 288 whose first record is the FPSIMD
 * context, magic 0x46508001 (asm/sigcontext.h). The kernel and qemu-user
 * (linux-user/aarch64/signal.c) lay the frame out as siginfo (128 bytes)
 * then the ucontext. */
#define UC_MCONTEXT 176
#define SC_REGS (UC_MCONTEXT + 8)

/* BL imm26 (0x94000000 | imm26): target = pc + sext(imm26) * 4 (A64;
 * checked with aarch64 objdump 2.40). Instructions are 4-byte aligned. */
static bool next_call(const uint8_t *code, size_t len, uint64_t pc0,
		      size_t *off, uint64_t *ret)
{
	for (size_t i = (*off + 3) & ~(size_t)3; i + 4 <= len; i += 4) {
		uint32_t w = (uint32_t)gp_load(code + i, 4);
		if ((w & 0xfc000000) != 0x94000000)
			continue;
		int64_t imm = (int64_t)(w & 0x03ffffff);
		if (imm & 0x02000000)
			imm -= 0x04000000;
		*ret = pc0 + i + (uint64_t)(imm * 4);
		*off = i + 4;
		return true;
	}
	*off = len;
	return false;
}

/*
 * Code evidence (holders: who locked a mutex) needs .decode, one gp_insn
 * per instruction (arch.h): not written yet for arm64, so holders on arm64
 * say "no code evidence on this architecture yet". The encodings it needs
 * were checked for the earlier lock-site scan (ARM64.md section 4, aarch64
 * objdump on 1.19 and 1.27 builds; commit faa92df): LDR/STR Xt, [Xn,
 * #imm12*8] (0xf9400000/0xf9000000), ADD Xd, Xn, #imm12 (0x91000000), MOV
 * Xd, Xm (ORR, 0xaa0003e0), ADRP (0x90000000), CAS* (0x88a07c00 mask
 * 0xbfa07c00) and LDADD* (0xb8200000 mask 0xbf20fc00) as GP_INSN_ATOMIC,
 * LDAXR/STLXR loops, BL as GP_INSN_CALL; the ABI is x0-x15 arguments, x26
 * the closure context, x28 g (abi-internal.md).
 */

const struct gp_arch gp_arch_arm64 = {
	.name = "arm64",
	.machine = EM_AARCH64,
	.nregs = ARM64_NREGS,
	.reg_pc = ARM64_PC,
	.reg_sp = ARM64_SP,
	.reg_bp = ARM64_FP,
	.reg_fs_base = GP_NO_REG,
	.reg_lr = ARM64_LR,
	.reg_g = ARM64_X28,      /* cmd/compile/abi-internal.md: R28 = g */
	.uses_lr = true,
	/* runtime/signal_arm64.go pushCall/preparePanic: sp -= 16 and the
	 * old LR at [sp]; sys.MinFrameSize 8 aligned to StackAlign 16 */
	.injected_frame = 16,
	/* struct elf_prstatus on arm64: the same offsets as x86-64 */
	.prstatus_cursig = 12,
	.prstatus_pid = 32,
	.prstatus_reg = 112,
	.uc_pc = UC_MCONTEXT + 264,
	.uc_sp = UC_MCONTEXT + 256,
	.uc_bp = SC_REGS + 8 * ARM64_FP,
	.uc_lr = SC_REGS + 8 * ARM64_LR,
	/* runtime.sigtramp is TOPFRAME $176 (a 192-byte frame with the LR
	 * slot, aligned): its fp is the sp the handler was entered with,
	 * where siginfo starts */
	.sigframe_uc = 128,
	.sigframe_restorer = false,
	.uc_magic_off = UC_MCONTEXT + 288,
	.uc_magic = 0x46508001,
	.next_call = next_call,
};
