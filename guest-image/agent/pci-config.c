// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
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

int pci_read_ats(const char *bdf, struct pci_ats_info *ats)
{
	uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, cfg, sizeof(cfg), 0);
	close(fd);
	if (n < 0)
		return -errno;
	pci_parse_ats(cfg, n, ats);
	return 0;
}
