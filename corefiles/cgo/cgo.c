/*
 * The C half of the cgo fixture: functions that block inside C, call back
 * into Go (from a Go thread and from threads C made), and crash. Built by
 * cgo with the program; the frames here are what a reader symbolises from
 * the executable's own symbol table.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "_cgo_export.h"
#include "cgo.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static int blocked;

/* Blocks the calling thread for ever on a condition nobody signals. */
void gp_block_in_c(void)
{
	pthread_mutex_lock(&mu);
	blocked++;
	for (;;)
		pthread_cond_wait(&never, &mu);
}

int gp_blocked_in_c(void)
{
	pthread_mutex_lock(&mu);
	int n = blocked;
	pthread_mutex_unlock(&mu);
	return n;
}

/* C calling back into Go on the calling (Go, locked) thread. */
void gp_call_back(int i)
{
	gpGoCallback(i);
}

static void *c_thread(void *arg)
{
	gpFromCThread((int)(intptr_t)arg);
	return NULL;
}

/* Threads Go never made, each calling into Go (and parking there). */
void gp_start_c_threads(int n)
{
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, c_thread, (void *)(intptr_t)i) ||
		    pthread_detach(t)) {
			fprintf(stderr, "cgo fixture: pthread_create failed\n");
			abort();
		}
	}
}

/* A NULL store the compiler cannot see coming, two C frames deep. */
static int *volatile nowhere;

__attribute__((noinline)) static void gp_crash_store(int v)
{
	*nowhere = v;
}

__attribute__((noinline)) void gp_crash(void)
{
	gp_crash_store(42);
	fprintf(stderr, "cgo fixture: the store did not fault\n");
}
