/* The architectures the engine reads. */
#include <elf.h>

#include "arch/arch.h"

/* Every architecture read, and their names for the refusal of any other
 * (one list: a third architecture is added to both). */
static const struct gp_arch *const all[] = { &gp_arch_x86_64, &gp_arch_arm64 };
#define GP_ARCH_NAMES "linux/x86-64 and linux/arm64"

const struct gp_arch *gp_arch_find(uint16_t machine)
{
	for (size_t i = 0; i < GP_ARRAY_SIZE(all); i++)
		if (all[i]->machine == machine)
			return all[i];
	return NULL;
}

const struct gp_arch *gp_arch_host(void)
{
#if defined(__aarch64__)
	return &gp_arch_arm64;
#else
	return &gp_arch_x86_64;
#endif
}

const char *gp_machine_name(uint16_t machine)
{
	switch (machine) {
	case EM_X86_64:
		return "x86-64";
	case EM_AARCH64:
		return "arm64";
	case EM_386:
		return "386";
	case EM_RISCV:
		return "riscv64";
	case EM_ARM:
		return "arm";
	case EM_PPC64:
		return "ppc64";
	case EM_S390:
		return "s390x";
	case EM_LOONGARCH:
		return "loong64";
	case EM_MIPS:
		return "mips";
	}
	return "an unknown machine";
}

const char *gp_arch_supported_names(void)
{
	return GP_ARCH_NAMES;
}
