// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ite-agent: the guest side of ite-lab's harness.
 *
 * Runs as a child of /init in the guest and serves one command channel, the
 * second serial port (/dev/ttyS1; /dev/ttyAMA1 on arm64, which /init passes
 * as argv[1]), that the host harness drives; the kernel console stays on
 * the first (ttyS0, ttyAMA0) so the guest log is never interleaved with
 * replies.
 *
 * Protocol, one line each way:
 *   host:  <seq> <command> [args...]
 *   agent: <seq> | <output line>        zero or more
 *          <seq> ok [summary]           or
 *          <seq> fail <reason>
 * On start the agent sends "0 hello ite-agent <kernel release>".
 *
 * Every command and its verdict is also written to /dev/kmsg, so the guest
 * log shows the harness's steps in line with the kernel's own messages.
 * A command never blocks for longer than the timeout it is given.
 */
#define _GNU_SOURCE	/* F_SETPIPE_SZ */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent-args.h"
#include "pci-config.h"

#define AGENT_TTY	"/dev/ttyS1"
#define LINE_MAX_LEN	512
#define MAX_ARGS	64
#define POLL_MS		50

static FILE *chan;
static int kmsg_fd = -1;

static void kmsg(const char *fmt, ...)
{
	char buf[LINE_MAX_LEN];
	va_list ap;
	int n;

	if (kmsg_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "<6>ite-agent: ");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (write(kmsg_fd, buf, strlen(buf)) < 0)
		return;
}

static void reply(unsigned long seq, const char *fmt, ...)
{
	va_list ap;

	fprintf(chan, "%lu ", seq);
	va_start(ap, fmt);
	vfprintf(chan, fmt, ap);
	va_end(ap);
	fputc('\n', chan);
	fflush(chan);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Wait until @path exists (@want) or not, polling, for at most @timeout_ms:
 * the milliseconds it took, or -1 when the time ran out.
 */
static long wait_exists(const char *path, bool want, long timeout_ms)
{
	long start = now_ms();

	while ((access(path, F_OK) == 0) != want) {
		if (now_ms() - start > timeout_ms)
			return -1;
		usleep(POLL_MS * 1000);
	}
	return now_ms() - start;
}

/* ats-status BDF [enabled|disabled]: report, and optionally require, ATS. */
static int cmd_ats_status(unsigned long seq, int argc, char **argv)
{
	struct pci_ats_info ats;
	int err;

	if (argc < 2 || argc > 3 || !valid_bdf(argv[1])) {
		reply(seq, "fail usage: ats-status BDF [enabled|disabled]");
		return -1;
	}
	err = pci_read_ats(argv[1], &ats);
	if (err) {
		reply(seq, "fail %s: cannot read config space: %s", argv[1], strerror(-err));
		return -1;
	}
	if (!ats.present) {
		reply(seq, "fail %s: no ATS capability", argv[1]);
		return -1;
	}
	reply(seq, "| %s ats cap=0x%03x enabled=%d stu=%u invq=%u",
	      argv[1], ats.offset, ats.enabled, ats.stu, ats.inv_queue_depth);
	if (argc == 3 && strcmp(argv[2], ats.enabled ? "enabled" : "disabled")) {
		reply(seq, "fail %s: ATS is %s, expected %s", argv[1],
		      ats.enabled ? "enabled" : "disabled", argv[2]);
		return -1;
	}
	reply(seq, "ok enabled=%d", ats.enabled);
	return 0;
}

/*
 * slot-status: the slot registers of every port with a hot-plug slot, as
 * the guest reads them. For a diagnosis when a hot-plug event went
 * missing: an event bit left set (no new interrupt comes until software
 * clears it), an interrupt not enabled, a link state not updated.
 */
static int cmd_slot_status(unsigned long seq, int argc, char **argv)
{
	struct pci_slot_info slot;
	char line[256];
	struct dirent *de;
	int found = 0;
	DIR *dir;

	if (argc != 1) {
		reply(seq, "fail usage: %s", argv[0]);
		return -1;
	}
	dir = opendir("/sys/bus/pci/devices");
	if (!dir) {
		reply(seq, "fail /sys/bus/pci/devices: %s", strerror(errno));
		return -1;
	}
	while ((de = readdir(dir))) {
		if (!valid_bdf(de->d_name) || pci_read_slot(de->d_name, &slot) ||
		    !slot.present)
			continue;
		pci_format_slot(&slot, line, sizeof(line));
		reply(seq, "| %s %s", de->d_name, line);
		found++;
	}
	closedir(dir);
	reply(seq, "ok %d slots", found);
	return 0;
}

/* wait-gone BDF SECONDS / wait-present BDF SECONDS */
static int cmd_wait(unsigned long seq, int argc, char **argv, bool want_present)
{
	char path[AGENT_PATH_MAX];
	unsigned long secs;
	long took;

	if (argc != 3 || !valid_bdf(argv[1])) {
		reply(seq, "fail usage: %s BDF SECONDS", argv[0]);
		return -1;
	}
	if (!parse_ulong(argv[2], 1, 3600, &secs)) {
		reply(seq, "fail %s: SECONDS must be 1..3600", argv[0]);
		return -1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", argv[1]);
	took = wait_exists(path, want_present, secs * 1000);
	if (took < 0) {
		reply(seq, "fail %s still %s after %lus", argv[1],
		      want_present ? "absent" : "present", secs);
		return -1;
	}
	reply(seq, "ok after %ldms", took);
	return 0;
}

/* wait-file PATH SECONDS: wait until a file (any kind) exists at PATH. */
static int cmd_wait_file(unsigned long seq, int argc, char **argv)
{
	unsigned long secs;
	long took;

	if (argc != 3 || !valid_abs_path(argv[1])) {
		reply(seq, "fail usage: wait-file PATH SECONDS (PATH absolute, under %d characters)",
		      AGENT_PATH_MAX);
		return -1;
	}
	if (!parse_ulong(argv[2], 1, 3600, &secs)) {
		reply(seq, "fail wait-file: SECONDS must be 1..3600");
		return -1;
	}
	took = wait_exists(argv[1], true, secs * 1000);
	if (took < 0) {
		reply(seq, "fail %s still absent after %lus", argv[1], secs);
		return -1;
	}
	reply(seq, "ok after %ldms", took);
	return 0;
}

/*
 * wait-inval BDF SECONDS: wait until the ats-testdev at BDF holds an
 * Invalidate Request it has not answered: its statistics (the driver's
 * debugfs "stats", read from the device, no lock taken) count more
 * received than completed. A scenario that pulls a card "during an
 * invalidation" waits for one instead of guessing how long its workload
 * takes to start.
 */
static int cmd_wait_inval(unsigned long seq, int argc, char **argv)
{
	char path[AGENT_PATH_MAX], text[4096];
	long long received = -1, completed = -1;
	unsigned long secs;
	long start = now_ms();
	ssize_t n;
	int fd;

	if (argc != 3 || !ats_testdev_path(path, sizeof(path), argv[1], "stats")) {
		reply(seq, "fail usage: wait-inval BDF SECONDS");
		return -1;
	}
	if (!parse_ulong(argv[2], 1, 3600, &secs)) {
		reply(seq, "fail wait-inval: SECONDS must be 1..3600");
		return -1;
	}
	do {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			reply(seq, "fail %s: %s", path, strerror(errno));
			return -1;
		}
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		text[n > 0 ? n : 0] = '\0';
		received = stat_value(text, "inval-received");
		completed = stat_value(text, "inval-completed");
		if (received < 0 || completed < 0) {
			reply(seq, "fail %s: no inval-received and inval-completed in it", path);
			return -1;
		}
		if (received > completed) {
			reply(seq, "ok after %ldms: inval-received=%lld inval-completed=%lld",
			      now_ms() - start, received, completed);
			return 0;
		}
		usleep(POLL_MS * 1000);
	} while (now_ms() - start < (long)secs * 1000);
	reply(seq, "fail %s: no invalidation outstanding in %lus (inval-received=%lld "
	      "inval-completed=%lld)", argv[1], secs, received, completed);
	return -1;
}

/*
 * load-driver: load the ats-testdev guest driver from where each kernel's
 * initramfs puts it, as "insmod" would. Its init binds it to the devices
 * already present before the command answers, so their debugfs files
 * exist when the next step runs.
 */
static int cmd_load_driver(unsigned long seq, int argc, char **argv)
{
	long start = now_ms();
	int fd, err;

	if (argc != 1) {
		reply(seq, "fail usage: %s (no arguments: loads %s)", argv[0], ATS_TESTDEV_MODULE);
		return -1;
	}
	fd = open(ATS_TESTDEV_MODULE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		reply(seq, "fail %s: %s%s", ATS_TESTDEV_MODULE, strerror(err),
		      err == ENOENT ? " (not in this initramfs: the harness boots "
		      "build/initramfs-KERNEL.cpio, which has it)" : "");
		return -1;
	}
	if (syscall(SYS_finit_module, fd, "", 0)) {
		err = errno;
		close(fd);
		reply(seq, "fail %s: %s", ATS_TESTDEV_MODULE,
		      err == EEXIST ? "already loaded" : strerror(err));
		return -1;
	}
	close(fd);
	reply(seq, "ok loaded %s in %ldms", ATS_TESTDEV_MODULE, now_ms() - start);
	return 0;
}

/*
 * ats-run BDF PASSES: run the ats-testdev driver's DMA workload on the
 * device, as "echo PASSES > /sys/kernel/debug/ats_testdev/BDF/run" does,
 * once that file exists: a card just plugged has it only when its driver
 * has bound, some time after wait-present, so the command first waits up
 * to ATS_RUN_WAIT_S for it. The write returns when the passes are done;
 * the answer is the run's result line, and a failed pass fails the step.
 */
#define ATS_RUN_WAIT_S	10

static int cmd_ats_run(unsigned long seq, int argc, char **argv)
{
	char run[AGENT_PATH_MAX], result[AGENT_PATH_MAX], buf[32], line[LINE_MAX_LEN] = "";
	unsigned long passes;
	int fd, err = 0, len;
	FILE *f;
	ssize_t w;

	if (argc != 3 || !ats_testdev_path(run, sizeof(run), argv[1], "run") ||
	    !ats_testdev_path(result, sizeof(result), argv[1], "result")) {
		reply(seq, "fail usage: ats-run BDF PASSES");
		return -1;
	}
	if (!parse_ulong(argv[2], 1, ATS_TESTDEV_MAX_PASSES, &passes)) {
		reply(seq, "fail ats-run: PASSES must be 1..%lu", ATS_TESTDEV_MAX_PASSES);
		return -1;
	}
	if (wait_exists(run, true, ATS_RUN_WAIT_S * 1000L) < 0) {
		reply(seq, "fail %s: no %s after %ds: driver not loaded or not bound",
		      argv[1], run, ATS_RUN_WAIT_S);
		return -1;
	}
	fd = open(run, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		reply(seq, "fail %s: %s", run, strerror(errno));
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%lu\n", passes);
	w = write(fd, buf, len);
	if (w < 0)
		err = errno;
	else if (w != len)
		err = EIO;
	close(fd);
	f = fopen(result, "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		line[strcspn(line, "\n")] = '\0';
		fclose(f);
	}
	if (err) {
		if (line[0])
			reply(seq, "| %s", line);
		reply(seq, "fail %s: %lu passes: %s", argv[1], passes, strerror(err));
		return -1;
	}
	reply(seq, "ok %s", line[0] ? line : "done");
	return 0;
}

/*
 * The words after the command name, joined by spaces, into @buf: the shell
 * command of "sh" and "bg". Answers the failure itself and returns false
 * when there is none or it does not fit.
 */
static bool shell_command(unsigned long seq, int argc, char **argv,
			  char *buf, size_t size)
{
	int i;

	if (argc < 2) {
		reply(seq, "fail usage: %s COMMAND...", argv[0]);
		return false;
	}
	buf[0] = '\0';
	for (i = 1; i < argc; i++) {
		if (strlen(buf) + strlen(argv[i]) + 2 >= size) {
			reply(seq, "fail %s: command too long", argv[0]);
			return false;
		}
		strcat(buf, argv[i]);
		if (i + 1 < argc)
			strcat(buf, " ");
	}
	return true;
}

/*
 * sh COMMAND...: run a shell command (cat, grep, echo ...); its output
 * lines come back as "|" lines and a non-zero exit fails the step.
 */
static int cmd_sh(unsigned long seq, int argc, char **argv)
{
	char cmd[LINE_MAX_LEN] = "";
	char line[LINE_MAX_LEN];
	FILE *p;
	int status;

	if (!shell_command(seq, argc, argv, cmd, sizeof(cmd)))
		return -1;
	p = popen(cmd, "r");
	if (!p) {
		reply(seq, "fail sh: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		reply(seq, "| %s", line);
	}
	status = pclose(p);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		reply(seq, "fail sh: exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	reply(seq, "ok");
	return 0;
}

/*
 * bg COMMAND...: start a shell command in the background and answer at
 * once (a DMA workload that runs while the host unplugs the device). It is
 * detached (double fork, own session, stdio on /dev/null), so it holds
 * neither this channel nor the agent.
 */
static int cmd_bg(unsigned long seq, int argc, char **argv)
{
	char cmd[LINE_MAX_LEN] = "";
	pid_t pid;
	int status, fd;

	if (!shell_command(seq, argc, argv, cmd, sizeof(cmd)))
		return -1;
	pid = fork();
	if (pid < 0) {
		reply(seq, "fail bg: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	reply(seq, "ok started");
	return 0;
}

/*
 * fragment-memory MB: leave MB megabytes of free memory per CPU as single
 * pages none of which is next to another free page, as on a host that has
 * run for a while. A detached child fills pairs of pipes a page at a time,
 * turn about, so each pipe's pages alternate with the other's, closes one
 * of each pair and keeps the other open until the guest stops. Pipe pages
 * are unmovable, like the kernel's own allocations: what the kernel next
 * allocates page by page comes from the freed ones, so a DMA buffer that
 * iommu_dma_alloc() builds from single pages (a virtio ring, say) is
 * contiguous to the device but not in guest memory.
 */
#define FRAGMENT_PIPE_BYTES	(1 << 20)

static bool fragment_pair(char *page, long page_size)
{
	int keep[2], gone[2];
	long n;

	/* Non-blocking: a pipe that holds less than asked for ends the loop. */
	if (pipe2(keep, O_NONBLOCK))
		return false;
	if (pipe2(gone, O_NONBLOCK)) {
		close(keep[0]);
		close(keep[1]);
		return false;
	}
	fcntl(keep[1], F_SETPIPE_SZ, FRAGMENT_PIPE_BYTES);
	fcntl(gone[1], F_SETPIPE_SZ, FRAGMENT_PIPE_BYTES);
	for (n = 0; n < FRAGMENT_PIPE_BYTES / page_size; n++)
		if (write(keep[1], page, page_size) != page_size ||
		    write(gone[1], page, page_size) != page_size)
			break;
	close(gone[0]);
	close(gone[1]);
	return n > 0;
}

static int cmd_fragment_memory(unsigned long seq, int argc, char **argv)
{
	long page_size = sysconf(_SC_PAGESIZE), ncpus = sysconf(_SC_NPROCESSORS_ONLN), cpu;
	unsigned long mb = 0, i;
	cpu_set_t set;
	char *end = NULL, done = 0;
	int fd[2];
	pid_t pid;

	if (argc == 2)
		mb = strtoul(argv[1], &end, 10);
	if (argc != 2 || *end || mb == 0 || mb > 64) {
		reply(seq, "fail usage: fragment-memory MB (1 to 64)");
		return -1;
	}
	if (pipe(fd)) {
		reply(seq, "fail fragment-memory: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		reply(seq, "fail fragment-memory: %s", strerror(errno));
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (pid == 0) {
		char *page = calloc(1, page_size);

		close(fd[0]);
		setsid();
		if (fork() != 0)
			_exit(0);
		done = page != NULL;
		/* On each CPU: its per-CPU free lists are served first. */
		for (cpu = 0; done && cpu < ncpus; cpu++) {
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
			for (i = 0; done && i < mb; i++)
				done = fragment_pair(page, page_size);
		}
		if (write(fd[1], &done, 1) != 1 || !done)
			_exit(1);
		close(fd[1]);
		for (;;)
			pause();
	}
	close(fd[1]);
	waitpid(pid, NULL, 0);
	if (read(fd[0], &done, 1) != 1)
		done = 0;
	close(fd[0]);
	if (!done) {
		reply(seq, "fail fragment-memory: could not fill %lu MB of pipes", 2 * mb * ncpus);
		return -1;
	}
	reply(seq, "ok %lu MB free in single pages on each of %ld CPUs", mb, ncpus);
	return 0;
}

static int cmd_poweroff(unsigned long seq, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	reply(seq, "ok powering off");
	kmsg("powering off\n");
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}

static int cmd_ping(unsigned long seq, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	reply(seq, "ok pong");
	return 0;
}

static int cmd_wait_gone(unsigned long seq, int argc, char **argv)
{
	return cmd_wait(seq, argc, argv, false);
}

static int cmd_wait_present(unsigned long seq, int argc, char **argv)
{
	return cmd_wait(seq, argc, argv, true);
}

static const struct command {
	const char *name;
	int (*run)(unsigned long seq, int argc, char **argv);
} commands[] = {
	{ "ats-status", cmd_ats_status },
	{ "wait-gone", cmd_wait_gone },
	{ "wait-present", cmd_wait_present },
	{ "wait-file", cmd_wait_file },
	{ "wait-inval", cmd_wait_inval },
	{ "load-driver", cmd_load_driver },
	{ "ats-run", cmd_ats_run },
	{ "slot-status", cmd_slot_status },
	{ "sh", cmd_sh },
	{ "bg", cmd_bg },
	{ "fragment-memory", cmd_fragment_memory },
	{ "poweroff", cmd_poweroff },
	{ "ping", cmd_ping },
	{ NULL, NULL }
};

static int dispatch(unsigned long seq, int argc, char **argv)
{
	const struct command *c;

	for (c = commands; c->name; c++)
		if (!strcmp(argv[0], c->name))
			return c->run(seq, argc, argv);
	reply(seq, "fail unknown command '%s'", argv[0]);
	return -1;
}

static void set_raw(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &t))
		return;
	cfmakeraw(&t);
	/* No modem lines on this port: without CLOCAL a read sees a hangup. */
	t.c_cflag |= CLOCAL | CREAD;
	cfsetispeed(&t, B115200);
	cfsetospeed(&t, B115200);
	tcsetattr(fd, TCSANOW, &t);
}

int main(int argc, char **argv)
{
	const char *tty = argc > 1 ? argv[1] : AGENT_TTY;
	char line[LINE_MAX_LEN];
	struct utsname uts;
	int fd;

	kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	fd = open(tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "ite-agent: %s: %s\n", tty, strerror(errno));
		return 1;
	}
	set_raw(fd);
	chan = fdopen(fd, "r+");
	if (!chan)
		return 1;
	uname(&uts);
	reply(0, "hello ite-agent %s", uts.release);
	kmsg("ready on %s\n", tty);

	for (;;) {
		char *args[MAX_ARGS], *save, *tok, *end;
		unsigned long seq;
		int n = 0, ret;

		/* The host may come and go (reconnects): wait, never exit. */
		if (!fgets(line, sizeof(line), chan)) {
			clearerr(chan);
			usleep(POLL_MS * 1000);
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		tok = strtok_r(line, " ", &save);
		if (!tok)
			continue;
		seq = strtoul(tok, &end, 10);
		if (*end || seq == 0) {
			reply(0, "fail malformed line (no sequence number)");
			continue;
		}
		while (n < MAX_ARGS && (tok = strtok_r(NULL, " ", &save)))
			args[n++] = tok;
		if (!n) {
			reply(seq, "fail empty command");
			continue;
		}
		if (tok && strtok_r(NULL, " ", &save)) {
			reply(seq, "fail more than %d words", MAX_ARGS);
			continue;
		}
		kmsg("step %lu: %s\n", seq, args[0]);
		ret = dispatch(seq, n, args);
		kmsg("step %lu: %s\n", seq, ret ? "fail" : "ok");
	}
}
