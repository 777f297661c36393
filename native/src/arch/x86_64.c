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

/*
 * A byte search of [start, start + len), not a disassembly (a false match
 * must also agree with the slot and the field offset):
 *  - MOV r64, [rsp + d] and MOV [rsp + d], r64 (REX.W 8B/89, SIB 24)
 *    link a register to a stack slot: Go spills and reloads pointers so;
 *  - LOCK CMPXCHG r/m32, r32 (F0 [REX] 0F B1 /r) and LOCK XADD (F0 [REX]
 *    0F C1 /r) with a memory operand are the inlined Lock and Unlock
 *    (RLock) fast paths of internal/sync/mutex.go and sync/rwmutex.go.
 */
static size_t find_lock_sites(const uint8_t *code, uint64_t start, size_t len,
			      struct gp_lock_site *ret, size_t max)
{
	int64_t link[16];
	size_t n = 0;
	for (int r = 0; r < 16; r++)
		link[r] = -1;
	for (size_t i = 0; i + 4 < len && n < max; i++) {
		uint8_t b = code[i];
		if ((b & 0xf8) == 0x48 && !(b & 2) &&
		    (code[i + 1] == 0x89 || code[i + 1] == 0x8b) &&
		    (code[i + 2] & 7) == 4 && (code[i + 2] >> 6) != 0 &&
		    (code[i + 2] >> 6) != 3 && code[i + 3] == 0x24) {
			unsigned reg = ((code[i + 2] >> 3) & 7) | ((b & 4) << 1);
			int64_t d;
			if ((code[i + 2] >> 6) == 1)
				d = (int8_t)code[i + 4];
			else if (i + 8 <= len)
				d = (int32_t)gp_load(code + i + 4, 4);
			else
				continue;
			link[reg] = d;
			continue;
		}
		if (b != 0xf0)
			continue;
		size_t j = i + 1;
		uint8_t rex = 0;
		if ((code[j] & 0xf0) == 0x40)
			rex = code[j++];
		if (j + 2 >= len || code[j] != 0x0f ||
		    (code[j + 1] != 0xb1 && code[j + 1] != 0xc1))
			continue;
		bool xadd = code[j + 1] == 0xc1;
		uint8_t modrm = code[j + 2];
		unsigned mod = modrm >> 6, rm = modrm & 7, base = rm;
		size_t k = j + 3;
		if (mod == 3)
			continue;
		struct gp_lock_site s = { start + i, 0, -1, 0, xadd };
		if (rm == 4) {           /* SIB */
			if (k >= len)
				continue;
			uint8_t sib = code[k++];
			base = sib & 7;
			if ((sib & 7) == 5 && mod == 0) {
				if (k + 4 > len)
					continue;
				s.disp = (int32_t)gp_load(code + k, 4);
				k += 4;
				ret[n++] = s;
				continue;
			}
		} else if (rm == 5 && mod == 0) { /* RIP-relative */
			if (k + 4 > len)
				continue;
			int32_t d = (int32_t)gp_load(code + k, 4);
			k += 4;
			s.abs = start + k + (uint64_t)(int64_t)d;
			ret[n++] = s;
			continue;
		}
		if (mod == 1) {
			if (k + 1 > len)
				continue;
			s.disp = (int8_t)code[k];
		} else if (mod == 2) {
			if (k + 4 > len)
				continue;
			s.disp = (int32_t)gp_load(code + k, 4);
		}
		s.slot = link[base | ((rex & 1) << 3)];
		ret[n++] = s;
	}
	return n;
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
	.find_lock_sites = find_lock_sites,
};
