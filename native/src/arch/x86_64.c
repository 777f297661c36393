/*
 * linux/amd64.
 */
#include <elf.h>
#include <string.h>

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


/* ------------------------------------------------------------ decoding */

/*
 * The instruction set's encoding (Intel SDM vol. 2, chapter 2 and
 * appendix A, the opcode maps): the length of every instruction of the
 * general-purpose, x87, SSE and VEX/EVEX encodings, so that a function is
 * walked instruction by instruction; and the meaning of the few Go's
 * compiler emits for what the analyses follow (MOV, LEA, LOCK'ed
 * read-modify-writes, CALL, jumps). Everything else is GP_INSN_OTHER with
 * the registers it may write: its ModRM reg field and, for a register
 * operand, its r/m field (more than it writes, never less), plus the
 * registers some opcodes write implicitly.
 *
 * Registers are numbered as in the encoding: 0 RAX, 1 RCX, 2 RDX, 3 RBX,
 * 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15.
 */
enum { RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6,
       RDI = 7, R11 = 11, R14 = 14 };

#define BIT(r) (1u << (r))
#define ALL_GPRS 0xffffu

/* One-byte opcodes with a ModRM byte (1) or not (0). */
static const uint8_t modrm1[256] = {
	/*       0 1 2 3 4 5 6 7 8 9 a b c d e f */
	/* 0 */  1,1,1,1,0,0,0,0,1,1,1,1,0,0,0,0,
	/* 1 */  1,1,1,1,0,0,0,0,1,1,1,1,0,0,0,0,
	/* 2 */  1,1,1,1,0,0,0,0,1,1,1,1,0,0,0,0,
	/* 3 */  1,1,1,1,0,0,0,0,1,1,1,1,0,0,0,0,
	/* 4 */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* 5 */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* 6 */  0,0,0,1,0,0,0,0,0,1,0,1,0,0,0,0,
	/* 7 */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* 8 */  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	/* 9 */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* a */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* b */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* c */  1,1,0,0,0,0,1,1,0,0,0,0,0,0,0,0,
	/* d */  1,1,1,1,0,0,0,0,1,1,1,1,1,1,1,1,
	/* e */  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	/* f */  0,0,0,0,0,0,1,1,0,0,0,0,0,0,1,1,
};

/* One-byte opcodes invalid in 64-bit mode (or prefixes handled before). */
static bool invalid1(uint8_t op)
{
	switch (op) {
	case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e:
	case 0x1f: case 0x27: case 0x2f: case 0x37: case 0x3f: case 0x60:
	case 0x61: case 0x82: case 0x9a: case 0xce: case 0xd4: case 0xd5:
	case 0xd6: case 0xea:
		return true;
	}
	return false;
}

/* Two-byte (0F xx) opcodes without a ModRM byte. */
static bool nomodrm2(uint8_t op)
{
	switch (op) {
	case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b:
	case 0x0e: case 0x30: case 0x31: case 0x32: case 0x33: case 0x34:
	case 0x35: case 0x37: case 0x77: case 0xa0: case 0xa1: case 0xa2:
	case 0xa8: case 0xa9: case 0xaa:
		return true;
	}
	return (op >= 0x80 && op <= 0x8f) || (op >= 0xc8 && op <= 0xcf);
}

/* Two-byte opcodes with an 8-bit immediate. */
static bool imm8_2(uint8_t op)
{
	switch (op) {
	case 0x70: case 0x71: case 0x72: case 0x73: case 0xa4: case 0xac:
	case 0xba: case 0xc2: case 0xc4: case 0xc5: case 0xc6:
		return true;
	}
	return false;
}

/* Two-byte opcodes that write no general register (SSE moves and
 * arithmetic on XMM registers, NOP, compares that set only flags). */
static bool xmm_only2(uint8_t op, bool p66)
{
	switch (op) {
	case 0x10: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15:
	case 0x16: case 0x17: case 0x18: case 0x19: case 0x1a: case 0x1b:
	case 0x1c: case 0x1d: case 0x1e: case 0x1f: case 0x28: case 0x29:
	case 0x2a: case 0x2b: case 0x2e: case 0x2f: case 0x6f: case 0x7f:
	case 0xd6: case 0xef: case 0xa3:
		return true;
	case 0x7e:  /* 66 0F 7E: MOVD/MOVQ xmm to r/m: writes a GPR */
		return !p66;
	}
	/* 51-5F arithmetic, 60-6D, 74-76 compares, D8-FE packed: XMM only,
	 * except 0F 50 (MOVMSKPS), 0F D7 (PMOVMSKB), 0F C5 (PEXTRW) */
	if ((op >= 0x51 && op <= 0x5f) || (op >= 0x60 && op <= 0x6d) ||
	    (op >= 0x74 && op <= 0x76) || (op >= 0xd8 && op <= 0xfe && op != 0xd7))
		return true;
	return false;
}

struct modrm {
	uint8_t mod, reg, rm;     /* reg and rm with REX bits */
	uint8_t base;             /* GP_REG_NONE for RIP-relative or none */
	bool sib, index, rip;     /* an index register is used */
	int64_t disp;
	size_t len;               /* ModRM, SIB and displacement bytes */
};

static bool read_modrm(const uint8_t *p, size_t avail, uint8_t rex,
		       bool addr32, struct modrm *m)
{
	(void)addr32;
	if (avail < 1)
		return false;
	uint8_t b = p[0];
	memset(m, 0, sizeof(*m));
	m->mod = b >> 6;
	m->reg = ((b >> 3) & 7) | ((rex & 4) << 1);
	m->rm = (b & 7) | ((rex & 1) << 3);
	m->base = GP_REG_NONE;
	size_t k = 1;
	if (m->mod == 3) {
		m->len = 1;
		return true;
	}
	uint8_t rm = b & 7;
	if (rm == 4) {
		if (avail < 2)
			return false;
		uint8_t sib = p[1];
		k = 2;
		m->sib = true;
		unsigned idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
		m->index = idx != 4;
		if ((sib & 7) == 5 && m->mod == 0) {
			m->base = GP_REG_NONE;   /* [index*s + disp32] */
			if (avail < k + 4)
				return false;
			m->disp = (int32_t)gp_load(p + k, 4);
			m->len = k + 4;
			return true;
		}
		m->base = (sib & 7) | ((rex & 1) << 3);
	} else if (rm == 5 && m->mod == 0) {
		if (avail < 5)
			return false;
		m->rip = true;
		m->disp = (int32_t)gp_load(p + 1, 4);
		m->len = 5;
		return true;
	} else {
		m->base = m->rm;
	}
	if (m->mod == 1) {
		if (avail < k + 1)
			return false;
		m->disp = (int8_t)p[k];
		k += 1;
	} else if (m->mod == 2) {
		if (avail < k + 4)
			return false;
		m->disp = (int32_t)gp_load(p + k, 4);
		k += 4;
	}
	m->len = k;
	return true;
}

/* The memory operand's base for a LOAD/STORE/LEA/ATOMIC, or false if the
 * address is not one register plus a displacement (or RIP-relative). */
static bool simple_mem(const struct modrm *m)
{
	return m->mod != 3 && !m->index && (m->rip || m->base != GP_REG_NONE);
}

/* A memory operand (RIP-relative: base GP_REG_NONE and the absolute
 * address in target) of an instruction of len bytes. */
static void mem_operand(struct gp_insn *ret, int kind, const struct modrm *m,
			uint64_t pc, size_t len, unsigned width)
{
	ret->kind = (uint8_t)kind;
	ret->base = m->rip ? GP_REG_NONE : m->base;
	ret->disp = m->disp;
	if (m->rip)
		ret->target = pc + len + (uint64_t)m->disp;
	ret->width = (uint8_t)width;
}

static size_t decode_x86_64(const uint8_t *p, size_t avail, uint64_t pc,
			    struct gp_insn *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->pc = pc;
	ret->dst = ret->src = ret->base = GP_REG_NONE;
	size_t i = 0;
	bool p66 = false, p67 = false, lock = false, rep = false;
	uint8_t rex = 0;
	/* legacy prefixes, then at most one REX right before the opcode */
	for (; i < avail && i < 14; i++) {
		uint8_t b = p[i];
		if (b == 0x66)
			p66 = true;
		else if (b == 0x67)
			p67 = true;
		else if (b == 0xf0)
			lock = true;
		else if (b == 0xf2 || b == 0xf3)
			rep = true;
		else if (b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 ||
			 b == 0x64 || b == 0x65)
			;
		else
			break;
	}
	if (i < avail && (p[i] & 0xf0) == 0x40)
		rex = p[i++];
	if (i >= avail)
		return 0;
	bool w = rex & 8;
	uint8_t op = p[i++];
	struct modrm m;
	size_t imm = 0;
	/* ---- VEX (C4, C5) and EVEX (62): every such instruction has a
	 * ModRM; map 3 (0F 3A) has an imm8, and a few of map 1 */
	if (op == 0xc4 || op == 0xc5 || op == 0x62) {
		unsigned map;
		uint8_t vrex = 0, vvvv;
		if (op == 0xc5) {
			if (i + 1 > avail)
				return 0;
			map = 1;
			vrex = (p[i] & 0x80) ? 0 : 4;
			vvvv = (uint8_t)((~p[i] >> 3) & 15);
			i += 1;
		} else if (op == 0xc4) {
			if (i + 2 > avail)
				return 0;
			map = p[i] & 0x1f;
			/* R, X, B inverted, as REX's bits 2, 1, 0 */
			vrex = (uint8_t)((~p[i] >> 5) & 7);
			vvvv = (uint8_t)((~p[i + 1] >> 3) & 15);
			i += 2;
		} else {
			if (i + 3 > avail)
				return 0;
			map = p[i] & 7;
			vrex = (uint8_t)((~p[i] >> 5) & 7);
			vvvv = (uint8_t)((~p[i + 1] >> 3) & 15);
			i += 3;
		}
		if (i >= avail || map < 1 || map > 3)
			return 0;
		uint8_t vop = p[i++];
		if (op == 0xc5 && vop == 0x77) { /* VZEROUPPER/VZEROALL */
			ret->len = (uint8_t)i;
			return i;
		}
		if (!read_modrm(p + i, avail - i, vrex, p67, &m))
			return 0;
		i += m.len;
		if (map == 3 || (map == 1 && imm8_2(vop)))
			imm = 1;
		if (i + imm > avail || i + imm > 15)
			return 0;
		/* a few write general registers (BMI, moves to GPRs):
		 * count the reg field and register r/m as written */
		ret->clobber = BIT(m.reg) | BIT(vvvv);
		if (m.mod == 3)
			ret->clobber |= BIT(m.rm);
		ret->len = (uint8_t)(i + imm);
		if (m.mod != 3 && simple_mem(&m) && !m.rip) {
			/* a store to memory (VMOVDQU to a stack slot...):
			 * what a slot held is no longer known */
			ret->kind = GP_INSN_STORE;
			ret->base = m.base;
			ret->disp = m.disp;
			ret->width = 32;
		}
		return i + imm;
	}
	if (op == 0x0f) {
		if (i >= avail)
			return 0;
		uint8_t op2 = p[i++];
		if (op2 == 0x38 || op2 == 0x3a) {
			if (i >= avail)
				return 0;
			i++; /* the third opcode byte */
			if (!read_modrm(p + i, avail - i, rex, p67, &m))
				return 0;
			i += m.len;
			imm = op2 == 0x3a;
			if (i + imm > avail || i + imm > 15)
				return 0;
			ret->clobber = BIT(m.reg) | (m.mod == 3 ? BIT(m.rm) : 0);
			ret->len = (uint8_t)(i + imm);
			if (op2 == 0x3a && m.mod != 3 && simple_mem(&m) && !m.rip) {
				/* PEXTR* to memory */
				ret->kind = GP_INSN_STORE;
				ret->base = m.base;
				ret->disp = m.disp;
				ret->width = 8;
			}
			return i + imm;
		}
		if (op2 >= 0x80 && op2 <= 0x8f) { /* Jcc rel32 */
			if (i + 4 > avail)
				return 0;
			int32_t rel = (int32_t)gp_load(p + i, 4);
			i += 4;
			ret->kind = GP_INSN_BRANCH;
			ret->cond = op2 == 0x84 ? GP_COND_ZERO :
				    op2 == 0x85 ? GP_COND_NONZERO : GP_COND_OTHER;
			ret->target = pc + i + (uint64_t)(int64_t)rel;
			ret->len = (uint8_t)i;
			return i;
		}
		if (nomodrm2(op2)) {
			if (op2 == 0x0b) /* UD2 */
				ret->kind = GP_INSN_TRAP;
			else if (op2 == 0xa2) /* CPUID */
				ret->clobber = BIT(RAX) | BIT(RBX) | BIT(RCX) | BIT(RDX);
			else if (op2 == 0x05) /* SYSCALL */
				ret->clobber = BIT(RAX) | BIT(RCX) | BIT(R11);
			else if (op2 == 0x31 || op2 == 0x32 || op2 == 0x33)
				ret->clobber = BIT(RAX) | BIT(RDX);
			else if (op2 >= 0xc8) /* BSWAP */
				ret->clobber = BIT((op2 & 7) | ((rex & 1) << 3));
			else if (op2 == 0xa1 || op2 == 0xa9) /* POP FS/GS */
				ret->clobber = 0;
			ret->len = (uint8_t)i;
			return i;
		}
		if (!read_modrm(p + i, avail - i, rex, p67, &m))
			return 0;
		i += m.len;
		if (imm8_2(op2))
			imm = 1;
		if (i + imm > avail || i + imm > 15)
			return 0;
		ret->len = (uint8_t)(i + imm);
		if (op2 == 0xb1 || op2 == 0xc1 || op2 == 0xb0 || op2 == 0xc0) {
			/* CMPXCHG (writes RAX), XADD (writes reg) */
			ret->clobber = op2 == 0xb1 || op2 == 0xb0 ? BIT(RAX) : BIT(m.reg);
			if (m.mod == 3) {
				ret->clobber |= BIT(m.rm);
			} else if (lock && simple_mem(&m)) {
				ret->kind = GP_INSN_ATOMIC;
				ret->base = m.rip ? GP_REG_NONE : m.base;
				ret->disp = m.disp;
				if (m.rip)
					ret->target = pc + ret->len + (uint64_t)m.disp;
				ret->width = op2 & 1 ? (w ? 8 : p66 ? 2 : 4) : 1;
			}
			return ret->len;
		}
		if (op2 == 0xc7 && m.mod != 3) { /* CMPXCHG8B/16B */
			ret->clobber = BIT(RAX) | BIT(RDX);
			return ret->len;
		}
		if (op2 == 0xa3 || (op2 == 0xba && (m.reg & 7) == 4)) /* BT */
			return ret->len;
		if (m.mod != 3 && simple_mem(&m) && !m.rip &&
		    (op2 == 0x11 || op2 == 0x13 || op2 == 0x17 || op2 == 0x29 ||
		     op2 == 0x2b || op2 == 0x7f || op2 == 0xd6 || op2 == 0xe7 ||
		     (op2 == 0x7e && p66) || (op2 >= 0x90 && op2 <= 0x9f) ||
		     op2 == 0xab || op2 == 0xb3 || op2 == 0xbb || op2 == 0xba ||
		     op2 == 0xa4 || op2 == 0xa5 || op2 == 0xac || op2 == 0xad)) {
			/* stores from XMM registers, SETcc, BTS/BTR/BTC,
			 * SHLD/SHRD to memory */
			ret->kind = GP_INSN_STORE;
			ret->base = m.base;
			ret->disp = m.disp;
			ret->width = 16;
			ret->clobber = 0;
			return ret->len;
		}
		if (xmm_only2(op2, p66))
			return ret->len;
		ret->clobber = BIT(m.reg) | (m.mod == 3 ? BIT(m.rm) : 0);
		if (op2 == 0x01) /* XGETBV, RDTSCP... */
			ret->clobber |= BIT(RAX) | BIT(RCX) | BIT(RDX);
		return ret->len;
	}
	if (invalid1(op))
		return 0;
	if (modrm1[op]) {
		if (!read_modrm(p + i, avail - i, rex, p67, &m))
			return 0;
		i += m.len;
	}
	/* immediates */
	size_t iz = p66 && !w ? 2 : 4;
	switch (op) {
	case 0x04: case 0x0c: case 0x14: case 0x1c: case 0x24: case 0x2c:
	case 0x34: case 0x3c: case 0x6a: case 0x6b: case 0x80: case 0x83:
	case 0xa8: case 0xc0: case 0xc1: case 0xc6: case 0xcd: case 0xe0:
	case 0xe1: case 0xe2: case 0xe3: case 0xe4: case 0xe5: case 0xe6:
	case 0xe7: case 0xeb:
		imm = 1;
		break;
	case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75:
	case 0x76: case 0x77: case 0x78: case 0x79: case 0x7a: case 0x7b:
	case 0x7c: case 0x7d: case 0x7e: case 0x7f:
		imm = 1;
		break;
	case 0x05: case 0x0d: case 0x15: case 0x1d: case 0x25: case 0x2d:
	case 0x35: case 0x3d: case 0x68: case 0x69: case 0x81: case 0xa9:
	case 0xc7:
		imm = iz;
		break;
	case 0xe8: case 0xe9:
		imm = 4;
		break;
	case 0xc2: case 0xca:
		imm = 2;
		break;
	case 0xc8:
		imm = 3;
		break;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3:
		imm = p67 ? 4 : 8;
		break;
	case 0xf6:
		imm = m.reg % 8 < 2 ? 1 : 0;
		break;
	case 0xf7:
		imm = m.reg % 8 < 2 ? iz : 0;
		break;
	default:
		if (op >= 0xb0 && op <= 0xb7)
			imm = 1;
		else if (op >= 0xb8 && op <= 0xbf)
			imm = w ? 8 : iz;
		break;
	}
	if (i + imm > avail || i + imm > 15)
		return 0;
	size_t len = i + imm;
	ret->len = (uint8_t)len;
	const uint8_t *ip = p + i;
	(void)rep;

	switch (op) {
	case 0xe8: case 0xe9: case 0xeb: {
		int64_t rel = op == 0xeb ? (int8_t)ip[0] : (int32_t)gp_load(ip, 4);
		ret->target = pc + len + (uint64_t)rel;
		ret->kind = op == 0xe8 ? GP_INSN_CALL : GP_INSN_JUMP;
		return len;
	}
	case 0xc2: case 0xc3: case 0xca: case 0xcb: case 0xcf:
		ret->kind = GP_INSN_RET;
		return len;
	case 0xcc: case 0xf4: case 0xf1:
		ret->kind = GP_INSN_TRAP;
		return len;
	case 0x89: case 0x8b:
		if (!w) {   /* 32-bit moves zero-extend: the value is lost */
			ret->clobber = op == 0x8b ? BIT(m.reg) :
				       m.mod == 3 ? BIT(m.rm) : 0;
			if (op == 0x89 && m.mod != 3 && simple_mem(&m) && !m.rip) {
				ret->kind = GP_INSN_STORE;
				ret->base = m.base;
				ret->disp = m.disp;
				ret->width = p66 ? 2 : 4;
			}
			return len;
		}
		if (m.mod == 3) {
			ret->kind = GP_INSN_MOV;
			ret->dst = op == 0x8b ? m.reg : m.rm;
			ret->src = op == 0x8b ? m.rm : m.reg;
			return len;
		}
		if (!simple_mem(&m)) {
			ret->clobber = op == 0x8b ? BIT(m.reg) : 0;
			return len;
		}
		ret->kind = op == 0x8b ? GP_INSN_LOAD : GP_INSN_STORE;
		ret->width = 8;
		if (op == 0x8b)
			ret->dst = m.reg;
		else
			ret->src = m.reg;
		ret->base = m.rip ? GP_REG_NONE : m.base;
		ret->disp = m.disp;
		if (m.rip)
			ret->target = pc + len + (uint64_t)m.disp;
		return len;
	case 0x8d:
		if (m.mod == 3)
			return 0;
		if (!w || !simple_mem(&m)) {
			ret->clobber = BIT(m.reg);
			return len;
		}
		ret->dst = m.reg;
		if (m.rip) {
			ret->kind = GP_INSN_ADDR;
			ret->target = pc + len + (uint64_t)m.disp;
		} else {
			ret->kind = GP_INSN_LEA;
			ret->base = m.base;
			ret->disp = m.disp;
		}
		return len;
	case 0x88: case 0xc6: case 0xc7:
		/* stores of a byte or an immediate: a stack slot's word is
		 * no longer what it was */
		if (op == 0xc7 && m.mod == 3 && (m.reg & 7) == 0) {
			ret->kind = GP_INSN_CONST;
			ret->dst = m.rm;
			int64_t v = (int32_t)gp_load(ip, 4);
			ret->target = w ? (uint64_t)v : (uint32_t)v;
			return len;
		}
		if (m.mod == 3) {
			ret->clobber = BIT(m.rm);
			return len;
		}
		if (simple_mem(&m)) {
			mem_operand(ret, GP_INSN_STORE, &m, pc, len,
				    op == 0x88 || op == 0xc6 ? 1 : (w ? 8 : iz));
			ret->src = GP_REG_NONE;   /* 0x88: a byte of a register */
			if (op == 0xc6) {
				ret->has_imm = 1;
				ret->imm = ip[0];
			} else if (op == 0xc7 && iz == 4) {
				/* imm32, sign-extended to a quadword */
				int64_t v = (int32_t)gp_load(ip, 4);
				ret->has_imm = 1;
				ret->imm = w ? v : (int64_t)(uint32_t)v;
			}
		}
		return len;
	case 0xff:
		switch (m.reg & 7) {
		case 2: case 3:
			ret->kind = GP_INSN_CALL_REG;
			return len;
		case 4: case 5:
			ret->kind = GP_INSN_JUMP_REG;
			return len;
		case 6: /* PUSH r/m */
			return len;
		default: /* INC, DEC */
			if (m.mod == 3)
				ret->clobber = BIT(m.rm);
			else if (lock && simple_mem(&m)) {
				ret->kind = GP_INSN_ATOMIC;
				ret->base = m.rip ? GP_REG_NONE : m.base;
				ret->disp = m.disp;
				if (m.rip)
					ret->target = pc + len + (uint64_t)m.disp;
				ret->width = w ? 8 : 4;
			} else if (simple_mem(&m) && !m.rip) {
				ret->kind = GP_INSN_STORE;
				ret->base = m.base;
				ret->disp = m.disp;
				ret->width = w ? 8 : 4;
			}
			return len;
		}
	case 0x84: case 0x85:
		if (m.mod == 3 && m.reg == m.rm) { /* TEST r, r */
			ret->kind = GP_INSN_TEST;
			ret->src = m.reg;
			ret->width = op == 0x84 ? 1 : (w ? 8 : p66 ? 2 : 4);
		}
		return len;
	case 0x38: case 0x39: case 0x3a: case 0x3b:
		/* CMP: flags only */
		if (m.mod != 3 && simple_mem(&m)) {
			mem_operand(ret, GP_INSN_CMP, &m, pc, len,
				    op & 1 ? (w ? 8 : p66 ? 2 : 4) : 1);
			ret->src = m.reg;
		}
		return len;
	case 0x3c: case 0x3d: /* CMP AL/EAX/RAX, imm */
		ret->kind = GP_INSN_CMP;
		ret->src = RAX;
		ret->width = op == 0x3c ? 1 : (w ? 8 : p66 ? 2 : 4);
		ret->has_imm = 1;
		ret->imm = op == 0x3c ? (int64_t)ip[0] :
			   iz == 4 ? (int64_t)(int32_t)gp_load(ip, 4) :
				     (int64_t)(uint16_t)gp_load(ip, 2);
		return len;
	case 0x31: case 0x33: case 0x29: case 0x2b:
		if (m.mod == 3 && m.reg == m.rm) { /* XOR r, r; SUB r, r */
			ret->kind = GP_INSN_CONST;
			ret->dst = m.reg;
			ret->target = 0;
			return len;
		}
		break;
	case 0x8f: /* POP r/m */
		if (m.mod == 3)
			ret->clobber = BIT(m.rm);
		return len;
	case 0x98: case 0x99:
		ret->clobber = op == 0x98 ? BIT(RAX) : BIT(RDX);
		return len;
	case 0x9f: case 0xd7: /* LAHF, XLAT */
		ret->clobber = BIT(RAX);
		return len;
	case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab:
	case 0xac: case 0xad: case 0xae: case 0xaf:
		ret->clobber = BIT(RSI) | BIT(RDI) | BIT(RCX) | BIT(RAX);
		return len;
	case 0xa0: case 0xa1:
		ret->clobber = BIT(RAX);
		return len;
	}
	if (op >= 0x50 && op <= 0x57)
		return len;
	if (op >= 0x58 && op <= 0x5f) {
		ret->clobber = BIT((op & 7) | ((rex & 1) << 3));
		return len;
	}
	if (op >= 0x70 && op <= 0x7f) {
		ret->kind = GP_INSN_BRANCH;
		ret->cond = op == 0x74 ? GP_COND_ZERO :
			    op == 0x75 ? GP_COND_NONZERO : GP_COND_OTHER;
		ret->target = pc + len + (uint64_t)(int64_t)(int8_t)ip[0];
		return len;
	}
	if (op >= 0xe0 && op <= 0xe3) { /* LOOP, JRCXZ */
		ret->kind = GP_INSN_BRANCH;
		ret->target = pc + len + (uint64_t)(int64_t)(int8_t)ip[0];
		ret->clobber = BIT(RCX);
		return len;
	}
	if (op >= 0x90 && op <= 0x97) { /* XCHG with RAX; 90 is NOP */
		if (op != 0x90 || (rex & 1))
			ret->clobber = BIT(RAX) | BIT((op & 7) | ((rex & 1) << 3));
		return len;
	}
	if (op >= 0xb8 && op <= 0xbf && !p66) { /* MOV r, imm32/imm64 */
		ret->kind = GP_INSN_CONST;
		ret->dst = (op & 7) | ((rex & 1) << 3);
		/* a 32-bit move zero-extends */
		ret->target = w ? gp_load(ip, 8) : gp_load(ip, 4);
		return len;
	}
	if (op >= 0xb0 && op <= 0xbf) {
		ret->clobber = BIT((op & 7) | ((rex & 1) << 3));
		return len;
	}
	if (op == 0xc9) { /* LEAVE */
		ret->clobber = BIT(RBP);
		return len;
	}
	if (op >= 0xd8 && op <= 0xdf) /* x87 */
		return len;
	if (op == 0xf6 || op == 0xf7) {
		unsigned r = m.reg & 7;
		if (r == 0 || r == 1)
			return len; /* TEST */
		if (r >= 4) /* MUL, IMUL, DIV, IDIV */
			ret->clobber = BIT(RAX) | BIT(RDX);
		if (m.mod == 3)
			ret->clobber |= BIT(m.rm);
		else if ((r == 2 || r == 3) && simple_mem(&m) && !m.rip) {
			ret->kind = GP_INSN_STORE; /* NOT, NEG to memory */
			ret->base = m.base;
			ret->disp = m.disp;
			ret->width = op == 0xf7 ? (w ? 8 : 4) : 1;
		}
		return len;
	}
	if ((op == 0x80 || op == 0x81 || op == 0x83) && (m.reg & 7) == 7) {
		/* CMP r/m, imm: flags only */
		if (m.mod != 3 && simple_mem(&m)) {
			mem_operand(ret, GP_INSN_CMP, &m, pc, len,
				    op == 0x80 ? 1 : (w ? 8 : p66 ? 2 : 4));
			ret->has_imm = 1;
			ret->imm = op == 0x81 && iz == 4 ? (int64_t)(int32_t)gp_load(ip, 4) :
				   op == 0x81 ? (int64_t)(int16_t)gp_load(ip, 2) :
						(int64_t)(int8_t)ip[0];
		}
		return len;
	}
	if (modrm1[op]) {
		/* ALU ops: the destination is reg (direction bit set) or r/m;
		 * XCHG (86, 87) writes both; LOCK'ed ones to memory are
		 * atomics */
		bool to_reg = (op < 0x40 && (op & 2)) || op == 0x63 ||
			      op == 0x69 || op == 0x6b || op == 0x86 ||
			      op == 0x87 || op == 0x8a;
		if (to_reg)
			ret->clobber |= BIT(m.reg);
		if (m.mod == 3 && !(op < 0x40 && (op & 2)) && op != 0x8a &&
		    op != 0x63 && op != 0x69 && op != 0x6b)
			ret->clobber |= BIT(m.rm);
		if (m.mod == 3 && (op == 0x86 || op == 0x87))
			ret->clobber |= BIT(m.rm);
		if (m.mod != 3 && simple_mem(&m) &&
		    (lock || op == 0x86 || op == 0x87) &&
		    (op < 0x40 || op == 0x80 || op == 0x81 || op == 0x83 ||
		     op == 0x86 || op == 0x87)) {
			/* LOCK ADD/OR/AND/SUB/XOR..., XCHG with memory
			 * (implicitly locked) */
			ret->kind = GP_INSN_ATOMIC;
			ret->base = m.rip ? GP_REG_NONE : m.base;
			ret->disp = m.disp;
			if (m.rip)
				ret->target = pc + len + (uint64_t)m.disp;
			ret->width = op & 1 ? (w ? 8 : p66 ? 2 : 4) : 1;
		} else if (m.mod != 3 && simple_mem(&m) && !m.rip && !to_reg &&
			   op != 0x8c && !((op == 0x80 || op == 0x81 || op == 0x83) &&
					   (m.reg & 7) == 7)) {
			/* an ALU op, shift, NOT/NEG to memory */
			ret->kind = GP_INSN_STORE;
			ret->base = m.base;
			ret->disp = m.disp;
			ret->width = op & 1 ? (w ? 8 : p66 ? 2 : 4) : 1;
		}
		return len;
	}
	return len;
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
	.arena_base_offset = UINT64_C(0xffff800000000000),
	.relative_reloc = R_X86_64_RELATIVE,
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
	.decode = decode_x86_64,
	/* cmd/compile/abi-internal.md, amd64: integer arguments in RAX, RBX,
	 * RCX, RDI, RSI, R8-R11; the closure context in RDX; R14 is g; RSP
	 * and RBP survive calls, every other register does not */
	.abi = {
		.nregs = 16,
		.sp = RSP,
		.ctxt = RDX,
		.nargs = 9,
		.args = { RAX, RBX, RCX, RDI, RSI, 8, 9, 10, 11 },
		.call_kept = BIT(RSP) | BIT(RBP) | BIT(R14),
		.asm_tmp = GP_REG_NONE,
	},
	/* mcontext gregs (sys/ucontext.h): REG_R8..REG_R15 0-7, RDI 8, RSI 9,
	 * RBP 10, RBX 11, RDX 12, RAX 13, RCX 14, RSP 15, RIP 16 */
	.uc_regs = {
		[GP_X86_R8] = UC_MCONTEXT + 0 * 8, [GP_X86_R9] = UC_MCONTEXT + 1 * 8,
		[GP_X86_R10] = UC_MCONTEXT + 2 * 8, [GP_X86_R11] = UC_MCONTEXT + 3 * 8,
		[GP_X86_R12] = UC_MCONTEXT + 4 * 8, [GP_X86_R13] = UC_MCONTEXT + 5 * 8,
		[GP_X86_R14] = UC_MCONTEXT + 6 * 8, [GP_X86_R15] = UC_MCONTEXT + 7 * 8,
		[GP_X86_RDI] = UC_MCONTEXT + 8 * 8, [GP_X86_RSI] = UC_MCONTEXT + 9 * 8,
		[GP_X86_RBP] = UC_MCONTEXT + 10 * 8, [GP_X86_RBX] = UC_MCONTEXT + 11 * 8,
		[GP_X86_RDX] = UC_MCONTEXT + 12 * 8, [GP_X86_RAX] = UC_MCONTEXT + 13 * 8,
		[GP_X86_RCX] = UC_MCONTEXT + 14 * 8, [GP_X86_RSP] = UC_MCONTEXT + 15 * 8,
		[GP_X86_RIP] = UC_MCONTEXT + 16 * 8,
	},
	/* System V AMD64 psABI, figure 3.36: rax, rdx, rcx, rbx, rsi, rdi,
	 * rbp, rsp, r8-r15 */
	.ndwarf = 16,
	.dwarf_regs = { GP_X86_RAX, GP_X86_RDX, GP_X86_RCX, GP_X86_RBX,
			GP_X86_RSI, GP_X86_RDI, GP_X86_RBP, GP_X86_RSP,
			GP_X86_R8, GP_X86_R9, GP_X86_R10, GP_X86_R11,
			GP_X86_R12, GP_X86_R13, GP_X86_R14, GP_X86_R15 },
};
