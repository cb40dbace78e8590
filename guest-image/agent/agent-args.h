/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest agent's argument checks: what a command accepts from the host
 * before it touches a file. A bad argument gets a "fail" reply, never a
 * crash or a path outside what the command is for. Header-only (static
 * inline), so the host-side unit test (pci-config-test.c) runs the same
 * code the agent does without a build change.
 */
#ifndef ITE_AGENT_ARGS_H
#define ITE_AGENT_ARGS_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest path wait-file accepts, and ats-run builds. */
#define AGENT_PATH_MAX		256

/* The guest driver of ats-testdev (guest-image/driver): where the
 * initramfs of each kernel puts it (scripts/build/build-guest-initramfs.sh),
 * and where it offers each bound device's workload. */
#define ATS_TESTDEV_MODULE	"/lib/modules/ats_testdev.ko"
#define ATS_TESTDEV_DEBUGFS	"/sys/kernel/debug/ats_testdev"
/* The most passes one write to "run" may ask for (the driver's bound). */
#define ATS_TESTDEV_MAX_PASSES	1000000UL

/* A BDF such as 0000:01:00.0; anything else could escape /sys/bus/pci. */
static inline bool valid_bdf(const char *s)
{
	unsigned int d, b, dev, fn;
	char tail;

	return strlen(s) == 12 &&
	       sscanf(s, "%4x:%2x:%2x.%1x%c", &d, &b, &dev, &fn, &tail) == 4 &&
	       dev < 32 && fn < 8;
}

/*
 * A decimal number from min to max into *val: digits only (no sign, no
 * space, no hex, nothing after), so "-1" is not a huge number and "5s" is
 * not 5.
 */
static inline bool parse_ulong(const char *s, unsigned long min,
			       unsigned long max, unsigned long *val)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*val = v;
	return true;
}

/* An absolute path short enough to pass around (wait-file's PATH). */
static inline bool valid_abs_path(const char *s)
{
	return s[0] == '/' && strlen(s) < AGENT_PATH_MAX;
}

/*
 * The path of a file of the ats_testdev driver's debugfs directory for the
 * device @bdf ("run", "result", "stats"); false if @bdf is not a BDF or the
 * path does not fit.
 */
static inline bool ats_testdev_path(char *buf, size_t size, const char *bdf,
				    const char *file)
{
	int n;

	if (!valid_bdf(bdf))
		return false;
	n = snprintf(buf, size, "%s/%s/%s", ATS_TESTDEV_DEBUGFS, bdf, file);
	return n > 0 && (size_t)n < size;
}

/*
 * The value of statistic NAME in the text of an ats-testdev's debugfs
 * "stats" file (a "name=value" line each), or -1 when the text has no such
 * line or its value is not a plain decimal number.
 */
static inline long long stat_value(const char *text, const char *name)
{
	size_t len = strlen(name);
	const char *line = text;
	unsigned long long v;
	char *end;

	while (strncmp(line, name, len) || line[len] != '=') {
		line = strchr(line, '\n');
		if (!line)
			return -1;
		line++;
	}
	line += len + 1;
	if (*line < '0' || *line > '9')
		return -1;
	errno = 0;
	v = strtoull(line, &end, 10);
	if (errno || (*end && *end != '\n') || v > (unsigned long long)LLONG_MAX)
		return -1;
	return (long long)v;
}

#endif
