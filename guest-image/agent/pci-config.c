// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pci-config.h"

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

uint16_t pci_find_ext_cap(const uint8_t *cfg, size_t len, uint16_t id)
{
	/* Each header is 4 bytes and 4-byte aligned: at most 960 of them. */
	int ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_EXT_CAP_START) / 4;
	uint16_t pos = PCI_EXT_CAP_START;

	while (ttl-- > 0 && pos >= PCI_EXT_CAP_START && (size_t)pos + 4 <= len) {
		uint32_t hdr = le32(cfg + pos);

		if (hdr == 0 || hdr == 0xffffffff)
			return 0;
		if ((hdr & 0xffff) == id)
			return pos;
		pos = (hdr >> 20) & 0xffc;
	}
	return 0;
}

void pci_parse_ats(const uint8_t *cfg, size_t len, struct pci_ats_info *ats)
{
	uint16_t pos = pci_find_ext_cap(cfg, len, PCI_EXT_CAP_ID_ATS);
	uint16_t ctrl;

	memset(ats, 0, sizeof(*ats));
	if (!pos || (size_t)pos + PCI_ATS_CTRL + 2 > len)
		return;
	ctrl = le16(cfg + pos + PCI_ATS_CTRL);
	ats->present = true;
	ats->offset = pos;
	ats->enabled = ctrl & PCI_ATS_CTRL_ENABLE;
	ats->stu = PCI_ATS_CTRL_STU(ctrl);
	ats->inv_queue_depth = PCI_ATS_CAP_QDEP(le16(cfg + pos + PCI_ATS_CAP));
}

/* Read @bdf's config space from sysfs into @cfg: its length or -errno */
static ssize_t read_config(const char *bdf, uint8_t *cfg, size_t size)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, cfg, size, 0);
	close(fd);
	return n < 0 ? -errno : n;
}

int pci_read_ats(const char *bdf, struct pci_ats_info *ats)
{
	uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
	ssize_t n = read_config(bdf, cfg, sizeof(cfg));

	if (n < 0)
		return n;
	pci_parse_ats(cfg, n, ats);
	return 0;
}

uint8_t pci_find_cap(const uint8_t *cfg, size_t len, uint8_t id)
{
	/* Each capability is at least 4 bytes, above the 64-byte header */
	int ttl = (256 - 0x40) / 4;
	uint8_t pos;

	if (len < 256)
		return 0;
	pos = cfg[PCI_CAPABILITY_LIST] & 0xfc;
	while (ttl-- > 0 && pos >= 0x40) {
		if (cfg[pos] == 0xff)
			return 0;
		if (cfg[pos] == id)
			return pos;
		pos = cfg[pos + 1] & 0xfc;
	}
	return 0;
}

void pci_parse_slot(const uint8_t *cfg, size_t len, struct pci_slot_info *slot)
{
	uint8_t pos = pci_find_cap(cfg, len, PCI_CAP_ID_EXP);

	memset(slot, 0, sizeof(*slot));
	/* pos is at most 0xfc: the slot registers may lie past the end */
	if (!pos || (size_t)pos + PCI_EXP_SLTSTA + 2 > len ||
	    !(le16(cfg + pos + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_SLOT))
		return;
	slot->present = true;
	slot->sltctl = le16(cfg + pos + PCI_EXP_SLTCTL);
	slot->sltsta = le16(cfg + pos + PCI_EXP_SLTSTA);
	slot->lnksta = le16(cfg + pos + PCI_EXP_LNKSTA);
}

int pci_read_slot(const char *bdf, struct pci_slot_info *slot)
{
	uint8_t cfg[256];
	ssize_t n = read_config(bdf, cfg, sizeof(cfg));

	if (n < 0)
		return n;
	pci_parse_slot(cfg, n, slot);
	return 0;
}

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct bit_name {
	uint16_t bit;
	const char *name;
};

static const struct bit_name sltctl_bits[] = {
	{ 0x0001, "ABPE" }, { 0x0008, "PDCE" }, { 0x0010, "CCIE" },
	{ 0x0020, "HPIE" }, { 0x0400, "PCC-off" }, { 0x1000, "DLLSCE" },
};

static const struct bit_name sltsta_bits[] = {
	{ 0x0001, "ABP" }, { 0x0008, "PDC" }, { 0x0010, "CC" },
	{ 0x0040, "PDS" }, { 0x0100, "DLLSC" },
};

static const struct bit_name lnksta_bits[] = {
	{ 0x2000, "DLLLA" },
};

/*
 * Append to @buf (of @size bytes, @len used) as snprintf() would; once it
 * is full, nothing more is written. Returns the new length, which may
 * exceed @size: the caller's string was truncated.
 */
__attribute__((format(printf, 4, 5)))
static size_t append(char *buf, size_t size, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (len >= size)
		return len;
	va_start(ap, fmt);
	len += vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	return len;
}

static size_t append_bits(char *buf, size_t size, size_t len, const char *reg,
			  uint16_t val, const struct bit_name *bits, size_t n)
{
	const char *sep = "";
	size_t i;

	len = append(buf, size, len, "%s=0x%04x(", reg, val);
	for (i = 0; i < n; i++) {
		if (val & bits[i].bit) {
			len = append(buf, size, len, "%s%s", sep, bits[i].name);
			sep = ",";
		}
	}
	return append(buf, size, len, ")");
}

void pci_format_slot(const struct pci_slot_info *slot, char *buf, size_t size)
{
	/* Power indicator: 01 on, 10 blinking, 11 off */
	static const char *const pwr_ind[] = { "?", "on", "blink", "off" };
	size_t len = 0;

	if (!size)
		return;
	buf[0] = '\0';
	len = append_bits(buf, size, len, "sltctl", slot->sltctl,
			  sltctl_bits, ARRAY_SIZE(sltctl_bits));
	len = append(buf, size, len, " pwr-ind=%s ",
		     pwr_ind[(slot->sltctl >> 8) & 3]);
	len = append_bits(buf, size, len, "sltsta", slot->sltsta,
			  sltsta_bits, ARRAY_SIZE(sltsta_bits));
	len = append(buf, size, len, " ");
	append_bits(buf, size, len, "lnksta", slot->lnksta,
		    lnksta_bits, ARRAY_SIZE(lnksta_bits));
}
