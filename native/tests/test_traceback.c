/*
 * runtime/snapshot.c gp_traceback_flags: which frames the runtime's
 * non-crash traceback leaves out, by Go version. Expectations written by
 * hand from runtime/traceback.go (showfuncinfo, isExportedRuntime,
 * elideWrapperCalling) of Go 1.19, 1.22, 1.23, 1.24 and 1.25.
 */
#include <stdio.h>

#include "runtime/runtime.h"

static int failures, checks;

static void expect(int gover, const char *name, uint8_t funcid,
		   uint32_t want, int line)
{
	uint32_t got = gp_traceback_flags(gover, name, funcid);
	checks++;
	if (got != want) {
		failures++;
		fprintf(stderr, "FAIL %s:%d: %d %s: flags %u, want %u\n",
			__FILE__, line, gover, name, got, want);
	}
}

#define N GP_FUNCID_NORMAL
#define W GP_FRAME_WRAPPER
#define R GP_FRAME_RUNTIME
#define E(v, name, id, want) expect(v, name, id, want, __LINE__)

int main(void)
{
	const int v119 = GP_GOVER(1, 19), v122 = GP_GOVER(1, 22),
		  v123 = GP_GOVER(1, 23), v124 = GP_GOVER(1, 24),
		  v125 = GP_GOVER(1, 25);
	const int all[] = {v119, v122, v123, v124, v125};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		int v = all[i];
		/* every version: unexported runtime functions, names without
		 * a package, and wrappers */
		E(v, "runtime.gopark", N, R);
		E(v, "runtime.gopanic", GP_FUNCID_GOPANIC, R);
		E(v, "runtime.goexit", GP_FUNCID_GOEXIT, R);
		E(v, "_rt0_amd64_linux", N, R);
		E(v, "runtime.Gosched", N, 0);
		E(v, "runtime.GC", N, 0);
		E(v, "main.main", N, 0);
		E(v, "sync.runtime_SemacquireMutex", N, 0);
		E(v, "internal/poll.runtime_pollWait", N, 0);
		E(v, "runtimex.gopark", N, 0);
		E(v, "main.startX.gowrap1", GP_FUNCID_WRAPPER, W);
		E(v, "main.T.Wait-fm", GP_FUNCID_WRAPPER, W);
		E(v, "runtime.wrapped", GP_FUNCID_WRAPPER, W | R);
		E(v, "runtime.(*mheap).alloc", N, R);
	}
	/* up to 1.22 the first letter after "runtime." decides */
	E(v119, "runtime.(*Func).Entry", N, R);
	E(v122, "runtime.(*Func).Entry", N, R);
	E(v119, "runtime.Gosched.func1", N, 0);
	E(v122, "runtime.GC.func1", N, 0);
	/* from 1.23 the last component and the receiver type decide */
	E(v123, "runtime.(*Func).Entry", N, 0);
	E(v124, "runtime.(*Frames).Next", N, 0);
	E(v123, "runtime.Gosched.func1", N, R);
	E(v123, "runtime.(*Func).name", N, R);
	E(v125, "runtime.(*rwmutex).Lock", N, R);
	E(v123, "runtime.Frame.Next", N, 0);
	/* 1.25 shows the finalizer and cleanup goroutines' runtime frames */
	E(v125, "runtime.runFinalizers", GP_FUNCID_RUNFINALIZERS, 0);
	E(v125, "runtime.runCleanups", GP_FUNCID_RUNCLEANUPS, 0);
	E(v124, "runtime.runfinq", GP_FUNCID_RUNFINQ, R);
	E(v119, "runtime.runfinq", GP_FUNCID_RUNFINQ, R);
	if (failures) {
		fprintf(stderr, "%d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("traceback: %d checks\n", checks);
	return 0;
}
