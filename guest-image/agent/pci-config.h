/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading a PCI function's configuration space through sysfs, so the guest
 * agent can report ATS state without lspci. Kept apart from the agent so
 * the host-side unit test can run it on recorded config-space images.
 */
#ifndef ITE_PCI_CONFIG_H
#define ITE_PCI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCI_CFG_SPACE_EXP_SIZE	4096
#define PCI_EXT_CAP_START	0x100
#define PCI_EXT_CAP_ID_ATS	0x000f
/* ATS capability: capability register at +4, control register at +6 */
#define PCI_ATS_CAP		0x04
#define PCI_ATS_CAP_QDEP(x)	((x) & 0x1f)
#define PCI_ATS_CTRL		0x06
#define PCI_ATS_CTRL_ENABLE	0x8000
#define PCI_ATS_CTRL_STU(x)	((x) & 0x1f)

struct pci_ats_info {
	bool present;
	bool enabled;
	uint16_t offset;		/* of the capability in config space */
	unsigned int stu;		/* Smallest Translation Unit, log2 - 12 */
	unsigned int inv_queue_depth;	/* 0 means 32 */
};

/*
 * pci_find_ext_cap - offset of extended capability @id in @cfg, or 0.
 * @cfg: a config-space image of @len bytes (short reads give 256 bytes).
 * The walk is bounded, so a malformed (looping) list cannot hang it.
 */
uint16_t pci_find_ext_cap(const uint8_t *cfg, size_t len, uint16_t id);

/* pci_parse_ats - fill @ats from the config-space image @cfg of @len bytes. */
void pci_parse_ats(const uint8_t *cfg, size_t len, struct pci_ats_info *ats);

/* pci_read_ats - read @bdf's config space from sysfs; 0 or -errno. */
int pci_read_ats(const char *bdf, struct pci_ats_info *ats);

#endif
