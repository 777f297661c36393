/* The architectures the engine reads. */
#include "arch/arch.h"

const struct gp_arch *gp_arch_find(uint16_t machine)
{
	static const struct gp_arch *const all[] = { &gp_arch_x86_64 };
	for (size_t i = 0; i < GP_ARRAY_SIZE(all); i++)
		if (all[i]->machine == machine)
			return all[i];
	return NULL;
}
