// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Host-side unit test of the agent's config-space parser, on synthetic
 * config-space images: the ATS capability found and decoded, and malformed
 * capability lists (loops, all-ones from a removed device, short reads)
 * handled without hanging or reading out of bounds; a port's slot registers
 * found and spelled out. And of its argument checks (agent-args.h): BDFs,
 * numbers and paths a command accepts or answers "fail" to. Prints TAP.
 */
#include <stdio.h>
#include <string.h>

#include "agent-args.h"
#include "pci-config.h"

static int tests, failures;

static const char expect_slot[] =
	"sltctl=0x1131(ABPE,CCIE,HPIE,DLLSCE) pwr-ind=on sltsta=0x0148(PDC,PDS,DLLSC) lnksta=0x2000(DLLLA)";

static void ok(int cond, const char *name)
{
	tests++;
	if (!cond)
		failures++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, name);
}

static void put_hdr(uint8_t *cfg, uint16_t pos, uint16_t id, uint16_t next)
{
	uint32_t hdr = id | 1u << 16 | (uint32_t)next << 20;

	memcpy(cfg + pos, &hdr, 4);	/* x86: little endian like PCI */
}

/* agent-args.h: what wait-present, wait-file and ats-run accept. */
static void test_args(void)
{
	char path[AGENT_PATH_MAX], longpath[AGENT_PATH_MAX + 1];
	unsigned long v = 42;

	ok(valid_bdf("0000:01:00.0") && valid_bdf("ffff:ff:1f.7"), "BDFs accepted");
	ok(!valid_bdf("0000:01:00.0/") && !valid_bdf("01:00.0") && !valid_bdf("0000:01:20.0") &&
	   !valid_bdf("0000:01:00.8") && !valid_bdf("../../../..//") && !valid_bdf(""),
	   "not a BDF: trailing slash, no domain, device 32, function 8, a path, empty");

	ok(parse_ulong("1", 1, 3600, &v) && v == 1 && parse_ulong("3600", 1, 3600, &v) && v == 3600,
	   "numbers at both ends of the range accepted");
	v = 42;
	ok(!parse_ulong("0", 1, 3600, &v) && !parse_ulong("3601", 1, 3600, &v) && v == 42,
	   "numbers outside the range refused, the value untouched");
	ok(!parse_ulong("-1", 1, ATS_TESTDEV_MAX_PASSES, &v) &&
	   !parse_ulong("+5", 1, 10, &v) && !parse_ulong(" 5", 1, 10, &v),
	   "no sign, no leading space: -1 is not a huge number");
	ok(!parse_ulong("5s", 1, 10, &v) && !parse_ulong("0x5", 1, 10, &v) &&
	   !parse_ulong("", 1, 10, &v) && !parse_ulong("1.5", 1, 10, &v),
	   "nothing after the digits, no hex, not empty, no fraction");
	ok(!parse_ulong("99999999999999999999999", 1, ~0UL, &v),
	   "a number past unsigned long refused, not clamped");

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ok(valid_abs_path("/sys/kernel/debug/ats_testdev/0000:01:00.0/run"),
	   "an absolute path accepted");
	ok(!valid_abs_path("sys/x") && !valid_abs_path("") && !valid_abs_path(longpath),
	   "relative, empty and too long paths refused");

	ok(stat_value("inval-received=12\ninval-completed=11\n", "inval-received") == 12 &&
	   stat_value("inval-received=12\ninval-completed=11\n", "inval-completed") == 11 &&
	   stat_value("atc-hits=0", "atc-hits") == 0,
	   "a statistic's value, first line, later line and last line without newline");
	ok(stat_value("inval-received-x=3\n", "inval-received") == -1 &&
	   stat_value("x-inval-received=3\n", "inval-received") == -1 &&
	   stat_value("inval-received=\n", "inval-received") == -1 &&
	   stat_value("inval-received=-1\n", "inval-received") == -1 &&
	   stat_value("inval-received=5x\n", "inval-received") == -1 &&
	   stat_value("inval-received=99999999999999999999\n", "inval-received") == -1 &&
	   stat_value("", "inval-received") == -1,
	   "no statistic from a longer or shorter name, an empty, signed, suffixed or huge value");

	ok(ats_testdev_path(path, sizeof(path), "0000:01:00.0", "run") &&
	   !strcmp(path, "/sys/kernel/debug/ats_testdev/0000:01:00.0/run"),
	   "the run file of a device");
	ok(!ats_testdev_path(path, sizeof(path), "../../../../etc", "run") &&
	   !ats_testdev_path(path, 20, "0000:01:00.0", "run"),
	   "no run file for a non-BDF or a buffer too small");
}

int main(void)
{
	uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
	struct pci_ats_info ats;
	struct pci_slot_info slot;
	char line[256];

	/* The plan comes last: it counts the tests that ran. */
	printf("TAP version 13\n");

	/* AER at 0x100 -> ATS at 0x148, enabled, STU 0, queue depth 32 */
	memset(cfg, 0, sizeof(cfg));
	put_hdr(cfg, 0x100, 0x0001, 0x148);
	put_hdr(cfg, 0x148, PCI_EXT_CAP_ID_ATS, 0);
	cfg[0x148 + PCI_ATS_CTRL + 1] = 0x80;
	pci_parse_ats(cfg, sizeof(cfg), &ats);
	ok(ats.present && ats.offset == 0x148, "ATS found behind another capability");
	ok(ats.enabled && ats.stu == 0, "ATS enable bit and STU decoded");

	cfg[0x148 + PCI_ATS_CTRL + 1] = 0x00;
	cfg[0x148 + PCI_ATS_CTRL] = 0x03;
	cfg[0x148 + PCI_ATS_CAP] = 0x08;
	pci_parse_ats(cfg, sizeof(cfg), &ats);
	ok(!ats.enabled && ats.stu == 3 && ats.inv_queue_depth == 8,
	   "ATS disabled, STU and invalidate queue depth decoded");

	pci_parse_ats(cfg, 256, &ats);
	ok(!ats.present, "short read (no extended config space): no ATS");

	memset(cfg, 0xff, sizeof(cfg));
	pci_parse_ats(cfg, sizeof(cfg), &ats);
	ok(!ats.present, "all-ones (device gone): no ATS");

	memset(cfg, 0, sizeof(cfg));
	put_hdr(cfg, 0x100, 0x0001, 0x100);
	ok(pci_find_ext_cap(cfg, sizeof(cfg), PCI_EXT_CAP_ID_ATS) == 0,
	   "self-looping capability list terminates");

	put_hdr(cfg, 0x100, 0x0001, 0x040);
	ok(pci_find_ext_cap(cfg, sizeof(cfg), PCI_EXT_CAP_ID_ATS) == 0,
	   "next pointer below 0x100 ends the walk");

	put_hdr(cfg, 0x100, 0x0001, 0xffc);
	put_hdr(cfg, 0xffc, PCI_EXT_CAP_ID_ATS, 0);
	pci_parse_ats(cfg, sizeof(cfg), &ats);
	ok(!ats.present, "ATS header whose control register lies past the end is ignored");

	/* A root port: PCIe capability at 0x40 behind MSI at 0x60... */
	memset(cfg, 0, sizeof(cfg));
	cfg[PCI_CAPABILITY_LIST] = 0x60;
	cfg[0x60] = 0x05;
	cfg[0x61] = 0x40;
	cfg[0x40] = PCI_CAP_ID_EXP;
	cfg[0x40 + PCI_EXP_FLAGS + 1] = PCI_EXP_FLAGS_SLOT >> 8;
	cfg[0x40 + PCI_EXP_SLTCTL] = 0x31;		/* ABPE CCIE HPIE */
	cfg[0x40 + PCI_EXP_SLTCTL + 1] = 0x11;		/* DLLSCE, power ind on */
	cfg[0x40 + PCI_EXP_SLTSTA] = 0x48;		/* PDS, PDC */
	cfg[0x40 + PCI_EXP_SLTSTA + 1] = 0x01;		/* DLLSC */
	cfg[0x40 + PCI_EXP_LNKSTA + 1] = 0x20;		/* DLLLA */
	pci_parse_slot(cfg, 256, &slot);
	ok(slot.present && slot.sltctl == 0x1131 && slot.sltsta == 0x0148 &&
	   slot.lnksta == 0x2000, "slot registers found behind another capability");
	pci_format_slot(&slot, line, sizeof(line));
	ok(!strcmp(line, expect_slot), "slot registers spelled out");
	pci_format_slot(&slot, line, 20);
	ok(strlen(line) == 19, "a short buffer truncates, never overflows");

	cfg[0x40 + PCI_EXP_FLAGS + 1] = 0;
	pci_parse_slot(cfg, 256, &slot);
	ok(!slot.present, "no Slot Implemented bit: no slot");

	cfg[0x61] = 0x60;
	ok(pci_find_cap(cfg, 256, PCI_CAP_ID_EXP) == 0,
	   "self-looping standard capability list terminates");

	memset(cfg, 0xff, 256);
	pci_parse_slot(cfg, 256, &slot);
	ok(!slot.present, "all-ones (device gone): no slot");

	test_args();
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
