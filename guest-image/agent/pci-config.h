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

/* The PCI Express capability, for the slot registers of a port */
#define PCI_CAPABILITY_LIST	0x34
#define PCI_CAP_ID_EXP		0x10
#define PCI_EXP_FLAGS		0x02
#define PCI_EXP_FLAGS_SLOT	0x0100	/* Slot Implemented */
#define PCI_EXP_LNKSTA		0x12
#define PCI_EXP_SLTCTL		0x18
#define PCI_EXP_SLTSTA		0x1a

/* A hot-plug slot's state, as the port shows it to software */
struct pci_slot_info {
	bool present;			/* the function has a PCIe slot */
	uint16_t sltctl, sltsta, lnksta;
};

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

/*
 * pci_find_cap - offset of capability @id in the standard list of @cfg,
 * or 0. Bounded like pci_find_ext_cap().
 */
uint8_t pci_find_cap(const uint8_t *cfg, size_t len, uint8_t id);

/* pci_parse_slot - fill @slot from the config-space image @cfg. */
void pci_parse_slot(const uint8_t *cfg, size_t len, struct pci_slot_info *slot);

/* pci_read_slot - read @bdf's config space from sysfs; 0 or -errno. */
int pci_read_slot(const char *bdf, struct pci_slot_info *slot);

/*
 * pci_format_slot - the slot registers as "sltctl=... sltsta=... lnksta=..."
 * with the bits a hot-plug developer looks at spelled out, into @buf.
 */
void pci_format_slot(const struct pci_slot_info *slot, char *buf, size_t size);

#endif
