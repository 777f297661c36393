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
 * The inlined Lock/Unlock fast paths (ARM64.md section 4, checked with
 * aarch64 objdump on 1.19 and 1.27 builds): Go emits both an LSE branch
 * (CAS/CASA/CASL/CASAL for Lock, LDADD* for Unlock and RLock) and, before
 * GOARM64=v8.1, an LDAXR/STLXR loop chosen at run time; the LSE
 * instructions alone identify the operation. The base register is
 * followed through:
 *   LDR Xt, [SP, #imm]   a pointer reloaded from a stack slot
 *   STR Xt, [SP, #imm]   ... or spilled to one (before or after the lock)
 *   ADD Xd, Xn, #imm     a field of it (or ADRP+ADD: a global)
 *   MOV Xd, Xn           (ORR Xd, XZR, Xn)
 *   ADRP Xd, page        the page of a global
 * A word-by-word scan, not a control-flow analysis: a false match must
 * also agree with the slot and the field offset.
 */
struct link {
	int64_t slot;     /* -1 unknown */
	int64_t disp;
	uint64_t abs;     /* ADRP(+ADD) value, 0 if none */
	int root;         /* slot unknown: the register this one is
			   * root + disp of (an argument, spilled later) */
};

#define NOLINK(r) ((struct link){ -1, 0, 0, (r) })
/* Bytes after a lock in which a spill of its base register counts. */
#define SPILL_WINDOW 256

#define A64_REG(w, lo) (((w) >> (lo)) & 31)

static size_t find_lock_sites(const uint8_t *code, uint64_t start, size_t len,
			      struct gp_lock_site *ret, size_t max)
{
	struct link link[32];
	size_t n = 0;
	for (int r = 0; r < 32; r++)
		link[r] = NOLINK(r);
	for (size_t i = 0; i + 4 <= len && n < max; i += 4) {
		uint32_t w = (uint32_t)gp_load(code + i, 4);
		uint64_t pc = start + i;
		unsigned rd = A64_REG(w, 0), rn = A64_REG(w, 5);
		if ((w & 0xffc00000) == 0xf9400000 && rn == 31) {
			/* LDR Xt, [SP, #imm12*8] */
			link[rd] = (struct link){ ((w >> 10) & 0xfff) * 8, 0, 0,
						  (int)rd };
		} else if ((w & 0xffc00000) == 0xf9000000 && rn == 31) {
			/* STR Xt, [SP, #imm12*8]: the slot now holds Xt */
			int64_t slot = ((w >> 10) & 0xfff) * 8;
			if (link[rd].slot < 0 && !link[rd].abs && !link[rd].disp)
				link[rd].slot = slot;
			/* a lock through Xt (+ disp) shortly before the spill */
			for (size_t k = n; k-- > 0 && pc - ret[k].pc <= SPILL_WINDOW;)
				if (ret[k].slot == -2 - (int64_t)rd)
					ret[k].slot = slot;
		} else if ((w & 0xff800000) == 0x91000000) {
			/* ADD Xd, Xn, #imm12 {, LSL #12} */
			uint64_t imm = (w >> 10) & 0xfff;
			if (w & (1u << 22))
				imm <<= 12;
			struct link l = link[rn];
			if (rn == 31) /* ADD Xd, SP, #imm: not a pointer we track */
				l = NOLINK(-1);
			if (l.abs)
				l.abs += imm;
			else
				l.disp += (int64_t)imm;
			link[rd] = l;
		} else if ((w & 0xffe0ffe0) == 0xaa0003e0) {
			/* MOV Xd, Xm (ORR Xd, XZR, Xm) */
			link[rd] = link[A64_REG(w, 16)];
		} else if ((w & 0x9f000000) == 0x90000000) {
			/* ADRP Xd, page */
			int64_t imm = (int64_t)((((w >> 5) & 0x7ffff) << 2) |
						((w >> 29) & 3));
			if (imm & (1 << 20))
				imm -= 1 << 21;
			link[rd] = (struct link){ -1, 0,
				(pc & ~0xfffULL) + (uint64_t)(imm << 12), -1 };
		} else if ((w & 0xbfa07c00) == 0x88a07c00 ||
			   (w & 0xbf20fc00) == 0xb8200000) {
			/* CAS{,A,L,AL} Ws/Xs, Wt/Xt, [Xn] (lock) or
			 * LDADD{,A,L,AL} Ws/Xs, Wt/Xt, [Xn] (unlock, RLock) */
			struct link l = link[rn];
			struct gp_lock_site s = {
				.pc = pc,
				.xadd = (w & 0xbf20fc00) == 0xb8200000,
			};
			if (l.abs) {
				s.abs = l.abs;
			} else {
				s.disp = l.disp;
				/* -2 - r: not linked yet; a spill of the
				 * register it derives from that follows
				 * shortly gives the slot */
				s.slot = l.slot >= 0 ? l.slot :
					 l.root >= 0 ? -2 - (int64_t)l.root : -1;
			}
			ret[n++] = s;
			continue;
		} else if ((w & 0xfc000000) == 0x94000000 ||
			   (w & 0xfffffc1f) == 0xd63f0000) {
			/* BL, BLR: every register is the callee's to clobber
			 * in Go's ABI (abi-internal.md: no callee-saved ones) */
			for (int r = 0; r < 32; r++)
				link[r] = NOLINK(-1);
			for (size_t k = 0; k < n; k++)
				if (ret[k].slot < -1)
					ret[k].slot = -1;
		} else {
			/* any other write of Rd ends what we knew of it: the
			 * data-processing and load classes write Rd (bits
			 * 4:0); stores and branches do not */
			uint32_t op0 = (w >> 25) & 0xf;
			bool writes_rd = (op0 & 0xe) == 0x8 || /* DP imm */
					 (op0 & 0x7) == 0x5 || /* DP reg */
					 ((op0 & 0x5) == 0x4 && (w & (1u << 22)));
			if (writes_rd && rd != 31) {
				link[rd] = NOLINK(-1);
				/* pending locks whose root it was are lost */
				for (size_t k = 0; k < n; k++)
					if (ret[k].slot == -2 - (int64_t)rd)
						ret[k].slot = -1;
			}
		}
	}
	for (size_t k = 0; k < n; k++)
		if (ret[k].slot < -1)
			ret[k].slot = -1;
	return n;
}

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
	.find_lock_sites = find_lock_sites,
};
