/*
 * linux/arm64. Facts from ../shared/ARM64.md, each checked here against
 * the Go sources (1.19, 1.26, 1.27), the kernel/glibc headers compiled for
 * aarch64 and real qemu-aarch64 cores.
 */
#include <elf.h>
#include <string.h>

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

/* ------------------------------------------------------------ decoding */

/*
 * A64 (Arm Architecture Reference Manual, section C4 "A64 Instruction Set
 * Encoding"): every instruction is one 32-bit little-endian word, so the
 * length is always 4 and the work is what each one does to the general
 * registers. The encoding groups are told apart by bits 28:25; within
 * them, the few instructions the analyses follow get their meaning (ADRP,
 * ADR, ADD/SUB immediate, MOV, MOVZ/MOVN, ORR immediate of XZR, loads and
 * stores with an immediate offset, LDAR/STLR, the exclusives, CAS*, the
 * LSE atomics, B, BL, B.cond, CBZ/CBNZ, TBZ/TBNZ, BR, BLR, RET, BRK) and
 * every other instruction clobbers its destination field (more than it
 * writes, never less).
 *
 * Registers: 0-30 are x0-x30, 31 is SP where the encoding means SP (a
 * base register, ADD/SUB immediate) and XZR elsewhere. code.c never
 * writes SP (its value comes from the pclntab's SP delta), so a write to
 * XZR is dropped with it; a read of XZR is the constant 0, given as such.
 */
enum { XZR = 31 };

#define BIT(r) (1u << (r))

static int64_t sext(uint64_t v, unsigned bits)
{
	uint64_t m = 1ull << (bits - 1);
	v &= (1ull << bits) - 1;
	return (int64_t)((v ^ m) - m);
}

static uint64_t ror(uint64_t v, unsigned r, unsigned esize)
{
	uint64_t mask = esize == 64 ? ~0ull : (1ull << esize) - 1;
	v &= mask;
	if (!r)
		return v;
	return ((v >> r) | (v << (esize - r))) & mask;
}

/* DecodeBitMasks (ARM ARM, shared pseudocode) for a logical immediate:
 * false if the encoding is reserved. */
static bool bitmask_imm(unsigned n, unsigned immr, unsigned imms, bool sf,
			uint64_t *ret)
{
	unsigned combined = (n << 6) | (~imms & 0x3f);
	int len = -1;
	for (int i = 6; i >= 0; i--)
		if (combined & (1u << i)) {
			len = i;
			break;
		}
	if (len < 1 || (!sf && n))
		return false;
	unsigned esize = 1u << len, levels = esize - 1;
	unsigned s = imms & levels, r = immr & levels;
	if (s == levels)
		return false;
	uint64_t welem = (1ull << (s + 1)) - 1;
	uint64_t elem = ror(welem, r, esize);
	uint64_t v = 0;
	for (unsigned k = 0; k < 64; k += esize)
		v |= elem << k;
	*ret = sf ? v : (v & 0xffffffffu);
	return true;
}

static void mem(struct gp_insn *ret, int kind, unsigned rn, int64_t disp,
		unsigned width)
{
	ret->kind = (uint8_t)kind;
	ret->base = (uint8_t)rn;
	ret->disp = disp;
	ret->width = (uint8_t)width;
}

/* Loads and stores (op0 x1x0). */
static void decode_ldst(uint32_t w, uint64_t pc, struct gp_insn *ret)
{
	unsigned rt = w & 31, rn = (w >> 5) & 31;
	unsigned size = w >> 30;
	bool simd = (w >> 26) & 1;

	/* exclusives, load-acquire/store-release, CAS: size 001000 o2 L o1
	 * Rs o0 Rt2 Rn Rt */
	if ((w & 0x3f000000) == 0x08000000) {
		bool o2 = (w >> 23) & 1, l = (w >> 22) & 1, o1 = (w >> 21) & 1;
		unsigned rs = (w >> 16) & 31, rt2 = (w >> 10) & 31;
		if (o2 && o1) {         /* CAS, CASA, CASL, CASAL (B, H, W, X) */
			mem(ret, GP_INSN_ATOMIC, rn, 0, 1u << size);
			ret->dst = (uint8_t)rs;     /* gets the old value */
			return;
		}
		if (!o2 && o1 && !(w >> 31)) { /* CASP: Rs, Rs+1 get the old pair */
			mem(ret, GP_INSN_ATOMIC, rn, 0, 8u << (size & 1));
			ret->clobber = BIT(rs) | BIT((rs + 1) & 31);
			return;
		}
		if (o2) {               /* LDAR/STLR, LDLAR/STLLR */
			if (l) {
				mem(ret, GP_INSN_LOAD, rn, 0, 1u << size);
				ret->dst = (uint8_t)rt;
			} else {
				mem(ret, GP_INSN_STORE, rn, 0, 1u << size);
				ret->src = rt == XZR ? GP_REG_NONE : (uint8_t)rt;
			}
			return;
		}
		/* An exclusive pair is one atomic read-modify-write, begun by
		 * the load-exclusive: it is the ATOMIC, since every path
		 * through the pair passes it (a failed compare branches past
		 * the STLXR). */
		if (l) {                /* LDXR, LDAXR (LDXP, LDAXP) */
			mem(ret, GP_INSN_ATOMIC, rn, 0, o1 ? 8u << (size & 1) : 1u << size);
			ret->ldex = 1;
			ret->dst = o1 ? GP_REG_NONE : (uint8_t)rt;
			ret->clobber = o1 ? BIT(rt) | BIT(rt2) : 0;
			return;
		}
		/* STXR, STLXR (STXP, STLXP): Rs gets the status */
		mem(ret, GP_INSN_STORE, rn, 0, o1 ? 8u << (size & 1) : 1u << size);
		ret->clobber = BIT(rs);
		return;
	}
	/* load register (literal): opc 011 V 00 imm19 Rt */
	if ((w & 0x3b000000) == 0x18000000) {
		if (simd || size == 3)  /* a vector register; PRFM */
			return;
		ret->kind = GP_INSN_LOAD;
		ret->dst = (uint8_t)rt;
		ret->width = size == 1 ? 8 : 4;
		ret->target = pc + (uint64_t)(sext(w >> 5, 19) * 4);
		return;
	}
	/* load/store pair: opc 101 V 0 mode(24:23) L imm7 Rt2 Rn Rt */
	if ((w & 0x3a000000) == 0x28000000) {
		unsigned mode = (w >> 23) & 3;
		bool l = (w >> 22) & 1;
		unsigned scale = simd ? 4u << size : (size & 2) ? 8 : 4;
		int64_t disp = sext(w >> 15, 7) * scale;
		unsigned rt2 = (w >> 10) & 31;
		if (l) {        /* two words read: no one register's value */
			mem(ret, GP_INSN_LOAD, rn, mode == 1 ? 0 : disp, 2 * scale);
			if (!simd)
				ret->clobber = BIT(rt) | BIT(rt2);
		} else {
			mem(ret, GP_INSN_STORE, rn, mode == 1 ? 0 : disp, 2 * scale);
		}
		if (mode == 1 || mode == 3)     /* post-, pre-index: writeback */
			ret->clobber |= BIT(rn);
		return;
	}
	/* load/store register: size 111 V 0x opc ... */
	if ((w & 0x3a000000) != 0x38000000)
		return;     /* unallocated or MTE tags: writes no GPR we track */
	unsigned opc = (w >> 22) & 3;
	unsigned width = simd && (opc & 2) && size == 0 ? 16 : 1u << size;
	bool load = simd ? (opc & 1) : opc != 0;
	bool prfm = !simd && size == 3 && opc == 2;
	int64_t disp;
	bool wb = false, known = true;
	if ((w >> 24) & 1) {            /* unsigned immediate, scaled */
		disp = (int64_t)(((w >> 10) & 0xfff) * width);
	} else if (!((w >> 21) & 1)) {  /* imm9: unscaled, post, unpriv., pre */
		unsigned idx = (w >> 10) & 3;
		disp = sext(w >> 12, 9);
		if (idx == 1 || idx == 3)
			wb = true;
		if (idx == 1)
			disp = 0;       /* post-index: the address is Rn */
	} else if (((w >> 10) & 3) == 0 && !simd) {
		/* atomic memory operations (LSE): size 111 0 00 A R 1 Rs o3
		 * opc 00 Rn Rt; LDAPR is a load-acquire */
		unsigned o3opc = (w >> 12) & 15;
		if (o3opc == 12) {      /* LDAPR */
			mem(ret, GP_INSN_LOAD, rn, 0, 1u << size);
			ret->dst = (uint8_t)rt;
			return;
		}
		if (o3opc > 8)
			return;         /* unallocated */
		/* LDADD, LDCLR, LDEOR, LDSET, LD[SU]MAX/MIN, SWP: Rt gets
		 * the old value (XZR: the ST* aliases) */
		mem(ret, GP_INSN_ATOMIC, rn, 0, 1u << size);
		ret->dst = rt == XZR ? GP_REG_NONE : (uint8_t)rt;
		return;
	} else {
		/* register offset, pointer authentication: the address is
		 * not a base and a displacement */
		known = false;
		disp = 0;
		if (((w >> 10) & 3) != 2)
			wb = ((w >> 11) & 1);   /* LDRAA/LDRAB pre-index */
	}
	if (prfm)
		return;
	if (load) {
		if (simd) {
			/* a vector register: nothing tracked changes */
		} else if (known) {
			mem(ret, GP_INSN_LOAD, rn, disp, width);
			ret->dst = (uint8_t)rt;
		} else {
			ret->clobber = BIT(rt);
		}
	} else if (known) {
		mem(ret, GP_INSN_STORE, rn, disp, width);
		ret->src = simd || rt == XZR ? GP_REG_NONE : (uint8_t)rt;
	}
	if (wb)
		ret->clobber |= BIT(rn);
}

static size_t decode_arm64(const uint8_t *code, size_t avail, uint64_t pc,
			   struct gp_insn *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->pc = pc;
	ret->dst = ret->src = ret->base = GP_REG_NONE;
	if (avail < 4 || (pc & 3))
		return 0;
	uint32_t w = (uint32_t)gp_load(code, 4);
	ret->len = 4;
	unsigned rd = w & 31, rn = (w >> 5) & 31, rm = (w >> 16) & 31;
	bool sf = w >> 31;
	unsigned op0 = (w >> 25) & 15;

	if (op0 == 0) {
		if (!(w >> 16)) {       /* UDF #imm16 */
			ret->kind = GP_INSN_TRAP;
			return 4;
		}
		return 0;               /* SME */
	}
	if (op0 < 4)
		return 0;               /* unallocated, SVE */

	if ((op0 & 14) == 8) {          /* data processing, immediate */
		if ((w & 0x1f000000) == 0x10000000) {   /* ADR, ADRP */
			int64_t imm = sext(((w >> 3) & 0x1ffffc) | ((w >> 29) & 3), 21);
			ret->kind = GP_INSN_ADDR;
			ret->dst = (uint8_t)rd;
			ret->target = sf ? (pc & ~0xfffull) + (uint64_t)(imm * 4096) :
				      pc + (uint64_t)imm;
			ret->page = sf;
			if (rd == XZR)
				ret->kind = GP_INSN_OTHER;
			return 4;
		}
		if ((w & 0x1f800000) == 0x11000000) {   /* ADD/SUB (S) imm */
			bool sub = (w >> 30) & 1, s = (w >> 29) & 1;
			int64_t imm = (int64_t)((w >> 10) & 0xfff) << ((w >> 22) & 1 ? 12 : 0);
			if (s && rd == XZR && sub && rn != XZR) {   /* CMP imm */
				ret->kind = GP_INSN_CMP;
				ret->src = (uint8_t)rn;
				ret->width = sf ? 8 : 4;
				ret->has_imm = 1;
				ret->imm = imm;
			} else if (s) {
				if (rd != XZR)  /* ADDS, SUBS; else CMN */
					ret->clobber = BIT(rd);
			} else if (sf) {
				ret->kind = GP_INSN_LEA;
				ret->dst = (uint8_t)rd;
				ret->base = (uint8_t)rn;
				ret->disp = sub ? -imm : imm;
			} else {
				ret->clobber = BIT(rd);
			}
			return 4;
		}
		if ((w & 0x1f800000) == 0x12000000) {   /* logical imm */
			unsigned opc = (w >> 29) & 3;
			uint64_t imm;
			if (opc == 1 && rn == XZR && rd != XZR &&
			    bitmask_imm((w >> 22) & 1, (w >> 16) & 63, (w >> 10) & 63,
					sf, &imm)) {
				ret->kind = GP_INSN_CONST;  /* MOV (bitmask immediate) */
				ret->dst = (uint8_t)rd;
				ret->target = imm;
				return 4;
			}
			if (!(opc == 3 && rd == XZR))   /* TST */
				ret->clobber = BIT(rd);
			return 4;
		}
		if ((w & 0x1f800000) == 0x12800000) {   /* MOVN, MOVZ, MOVK */
			unsigned opc = (w >> 29) & 3, hw = (w >> 21) & 3;
			uint64_t imm = (uint64_t)((w >> 5) & 0xffff) << (16 * hw);
			if (rd == XZR)
				return 4;
			if (opc == 2 || opc == 0) {
				if (opc == 0)
					imm = ~imm;
				if (!sf)
					imm &= 0xffffffffu;
				ret->kind = GP_INSN_CONST;
				ret->dst = (uint8_t)rd;
				ret->target = imm;
				return 4;
			}
			ret->clobber = BIT(rd);
			return 4;
		}
		ret->clobber = BIT(rd); /* bitfield, extract, tags */
		return 4;
	}

	if ((op0 & 14) == 10) {         /* branches, exceptions, system */
		if ((w & 0x7c000000) == 0x14000000) {   /* B, BL */
			ret->kind = sf ? GP_INSN_CALL : GP_INSN_JUMP;
			ret->target = pc + (uint64_t)(sext(w, 26) * 4);
			return 4;
		}
		if ((w & 0xff000010) == 0x54000000) {   /* B.cond */
			unsigned cond = w & 15;
			ret->kind = cond >= 14 ? GP_INSN_JUMP : GP_INSN_BRANCH;
			ret->target = pc + (uint64_t)(sext(w >> 5, 19) * 4);
			return 4;
		}
		if ((w & 0x7e000000) == 0x34000000) {   /* CBZ, CBNZ */
			ret->kind = GP_INSN_BRANCH;
			ret->src = (uint8_t)rd;
			ret->width = sf ? 8 : 4;
			ret->cond = (w >> 24) & 1 ? GP_COND_NONZERO : GP_COND_ZERO;
			ret->target = pc + (uint64_t)(sext(w >> 5, 19) * 4);
			if (rd == XZR)  /* tests the constant 0 */
				ret->src = GP_REG_NONE, ret->cond = GP_COND_OTHER;
			return 4;
		}
		if ((w & 0x7e000000) == 0x36000000) {   /* TBZ, TBNZ */
			unsigned bit = ((w >> 26) & 32) | ((w >> 19) & 31);
			ret->kind = GP_INSN_BRANCH;
			ret->target = pc + (uint64_t)(sext(w >> 5, 14) * 4);
			if (bit == 0 && rd != XZR) {
				/* the low bit: a bool's zero test */
				ret->src = (uint8_t)rd;
				ret->width = 1;
				ret->cond = (w >> 24) & 1 ? GP_COND_NONZERO : GP_COND_ZERO;
			}
			return 4;
		}
		if ((w & 0xfe000000) == 0xd6000000) {   /* branch to register */
			unsigned opc = (w >> 21) & 15;
			if (opc == 0)
				ret->kind = GP_INSN_JUMP_REG;   /* BR, BRAA... */
			else if (opc == 1)
				ret->kind = GP_INSN_CALL_REG;   /* BLR, BLRAA... */
			else if (opc == 2 || opc == 4)
				ret->kind = GP_INSN_RET;        /* RET, ERET */
			else
				return 0;
			return 4;
		}
		if ((w & 0xff000000) == 0xd4000000) {   /* exceptions */
			unsigned opc = (w >> 21) & 7;
			if (opc == 0)   /* SVC, HVC, SMC: the kernel returns in x0 */
				ret->clobber = BIT(0);
			else if (opc == 1 || opc == 2)  /* BRK, HLT */
				ret->kind = GP_INSN_TRAP;
			return 4;
		}
		if ((w & 0xffc00000) == 0xd5000000) {   /* system */
			if ((w >> 21) & 1)      /* MRS, SYSL */
				ret->clobber = BIT(rd);
			return 4;
		}
		return 0;
	}

	if ((op0 & 5) == 4) {           /* loads and stores */
		decode_ldst(w, pc, ret);
		return 4;
	}

	if ((op0 & 7) == 5) {           /* data processing, register */
		bool s = (w >> 29) & 1;
		if ((w & 0x1f000000) == 0x0a000000) {   /* logical, shifted */
			unsigned opc = (w >> 29) & 3;
			bool n = (w >> 21) & 1;
			unsigned shift = (w >> 22) & 3, imm6 = (w >> 10) & 63;
			if (opc == 3 && rd == XZR)
				return 4;       /* TST */
			if (opc == 1 && !n && !shift && !imm6 && rn == XZR &&
			    rd != XZR) {
				if (rm == XZR) {        /* MOV Xd, XZR */
					ret->kind = GP_INSN_CONST;
					ret->dst = (uint8_t)rd;
					ret->target = 0;
				} else if (sf) {        /* MOV Xd, Xm */
					ret->kind = GP_INSN_MOV;
					ret->dst = (uint8_t)rd;
					ret->src = (uint8_t)rm;
				} else {        /* MOV Wd, Wm zero-extends */
					ret->clobber = BIT(rd);
				}
				return 4;
			}
			if (opc == 2 && !n && rn == rm && rd != XZR) {
				ret->kind = GP_INSN_CONST;      /* EOR x, y, y */
				ret->dst = (uint8_t)rd;
				ret->target = 0;
				return 4;
			}
			ret->clobber = BIT(rd);
			return 4;
		}
		if ((w & 0x1f000000) == 0x0b000000) {   /* add/sub, shifted, extended */
			if (!(s && rd == XZR))  /* else CMP, CMN */
				ret->clobber = BIT(rd);
			return 4;
		}
		if ((w & 0x1fe00000) == 0x1a400000)     /* CCMP, CCMN */
			return 4;
		ret->clobber = BIT(rd); /* every other one writes Rd */
		return 4;
	}

	/* SIMD and floating point: only the conversions to and the moves to
	 * general registers (FMOV, FCVT*, UMOV, SMOV) write one */
	if ((w & 0x5f200c00) == 0x1e200000 || (w & 0x9fe08400) == 0x0e000400)
		ret->clobber = BIT(rd);
	return 4;
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
	.arena_base_offset = 0,
	.relative_reloc = R_AARCH64_RELATIVE,
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
	.decode = decode_arm64,
	/* cmd/compile/abi-internal.md, arm64: integer arguments in R0-R15
	 * (the first nine tracked), the closure context in R26, R28 is g,
	 * R29 the frame pointer; a call writes R30 (LR) and every register
	 * but those. Register 31 is SP. */
	.abi = {
		.nregs = 32,
		.sp = 31,
		.ctxt = 26,
		.nargs = 9,
		.args = { 0, 1, 2, 3, 4, 5, 6, 7, 8 },
		.call_kept = BIT(31) | BIT(29) | BIT(28),
		.asm_tmp = 27,
	},
	/* sigcontext: regs[31] from SC_REGS, then sp, pc */
	.uc_regs = {
#define R(n) [n] = SC_REGS + 8 * (n)
		R(0), R(1), R(2), R(3), R(4), R(5), R(6), R(7), R(8), R(9),
		R(10), R(11), R(12), R(13), R(14), R(15), R(16), R(17), R(18),
		R(19), R(20), R(21), R(22), R(23), R(24), R(25), R(26), R(27),
		R(28), R(29), R(30),
#undef R
		[ARM64_SP] = UC_MCONTEXT + 256, [ARM64_PC] = UC_MCONTEXT + 264,
	},
	/* AAPCS64 DWARF numbers: x0-x30 are 0-30, sp 31 (ARM64.md: elfutils
	 * maps pr_reg words 0-31 the same way) */
	.ndwarf = 32,
	.dwarf_regs = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
			16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
			30, 31 },
};
