// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * host-tsc-khz: print the host's TSC frequency in kHz, measured against
 * CLOCK_MONOTONIC_RAW.
 *
 * Under TCG a guest's TSC is the host's (QEMU reads it with rdtsc), and a
 * guest calibrates it against emulated timers (PIT, HPET) whose reads a
 * loaded host delays: with more cells than host CPUs, guests have been
 * seen to settle on 59 MHz for a 2.4 GHz TSC, after which their clock runs
 * 40 times too fast and every timeout fires at once. The harness measures
 * the frequency here once, on the host, where preemption costs a few
 * microseconds of a 100 ms window, and tells the guests (tsc_early_khz=).
 *
 * Exit status 1, printing nothing, when the TSC cannot be measured.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

#define WINDOW_NS	100000000LL	/* 100 ms */
#define MAX_BRACKET_NS	20000LL		/* a clock pair this tight or retry */
#define TRIES		100

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * A TSC reading and the time it was taken, to within MAX_BRACKET_NS: the
 * TSC read between two clock reads that are close enough together.
 */
static int sample(uint64_t *tsc, int64_t *ns)
{
	int i;

	for (i = 0; i < TRIES; i++) {
		int64_t before = now_ns();
		uint64_t t = __rdtsc();
		int64_t after = now_ns();

		if (after - before <= MAX_BRACKET_NS) {
			*tsc = t;
			*ns = before + (after - before) / 2;
			return 0;
		}
	}
	return -1;
}

int main(void)
{
	struct timespec window = { 0, WINDOW_NS };
	uint64_t tsc0, tsc1;
	int64_t ns0, ns1;

	if (sample(&tsc0, &ns0))
		return 1;
	nanosleep(&window, NULL);
	if (sample(&tsc1, &ns1) || ns1 <= ns0 || tsc1 <= tsc0)
		return 1;
	printf("%llu\n", (unsigned long long)((tsc1 - tsc0) * 1000000ULL /
					     (uint64_t)(ns1 - ns0)));
	return 0;
}
