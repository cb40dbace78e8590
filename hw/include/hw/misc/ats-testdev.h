/*
 * ATS test endpoint: register interface shared by the device model, its
 * qtests and the guest driver (docs/specs/ats-testdev.rst).
 *
 * Copyright (c) 2026 ite-lab
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_ATS_TESTDEV_H
#define HW_MISC_ATS_TESTDEV_H

#define TYPE_ATS_TESTDEV "ats-testdev"

/* For the qtest and guest drivers; the device uses hw/pci/pci.h's names */
#define ATS_TESTDEV_VENDOR_ID   0x1b36  /* PCI_VENDOR_ID_REDHAT */
#define ATS_TESTDEV_DEVICE_ID   0x0015  /* PCI_DEVICE_ID_REDHAT_ATS_TESTDEV */
#define ATS_TESTDEV_REVISION    1

#define ATS_TESTDEV_BAR0_SIZE   0x1000
#define ATS_TESTDEV_ATS_OFFSET  0x100
#define ATS_TESTDEV_MAGIC       0x41545344      /* "ATSD" */
#define ATS_TESTDEV_MAX_LEN     (1u << 20)      /* per DMA command */
#define ATS_TESTDEV_PAGE_SIZE   0x1000ull

/* BAR0 registers; all 32-bit unless marked 64 (two halves, low first). */
enum {
    ATD_REG_MAGIC       = 0x00, /* RO: ATS_TESTDEV_MAGIC */
    ATD_REG_VERSION     = 0x04, /* RO: ATS_TESTDEV_REVISION */
    ATD_REG_STATUS      = 0x08, /* RO: result of the last command, ATD_ST_* */
    ATD_REG_CMD         = 0x0c, /* WO: doorbell, ATD_CMD_*; reads 0 */
    ATD_REG_SRC         = 0x10, /* 64: source IOVA */
    ATD_REG_DST         = 0x18, /* 64: destination IOVA */
    ATD_REG_LEN         = 0x20, /* bytes, 1..ATS_TESTDEV_MAX_LEN */
    ATD_REG_PATTERN     = 0x24, /* 32-bit pattern for FILL */
    ATD_REG_IRQ_STATUS  = 0x28, /* RW1C: ATD_IRQ_* */
    ATD_REG_IRQ_ENABLE  = 0x2c, /* RW: ATD_IRQ_* */
    ATD_REG_FAULT_ADDR  = 0x30, /* 64 RO: IOVA of the last failed access */
    ATD_REG_ATC_ENTRIES = 0x38, /* RO: valid ATC entries now */
    ATD_REG_ATC_SIZE    = 0x3c, /* RO: ATC capacity (property atc-size) */

    /* 64-bit statistics, read-only; ATD_CMD_STATS_RESET clears them. */
    ATD_REG_STATS       = 0x100,
};

/* Statistics, in ATD_REG_STATS + 8 * index order. */
enum {
    ATD_STAT_ATC_HITS,          /* translated accesses served by the ATC */
    ATD_STAT_ATC_MISSES,        /* lookups that needed a Translation Request */
    ATD_STAT_TRANSLATION_REQS,  /* Translation Requests sent to the IOMMU */
    ATD_STAT_TRANSLATION_UR,    /* ... answered "no translation" */
    ATD_STAT_UNTRANSLATED,      /* accesses sent untranslated (ATS disabled) */
    ATD_STAT_INVAL_RECEIVED,    /* Invalidate Requests received */
    ATD_STAT_INVAL_COMPLETED,   /* ... answered with an Invalidate Completion */
    ATD_STAT_INVAL_DROPPED,     /* ... never answered (drop-inval) */
    ATD_STAT_INVAL_ERRORS,      /* ... answered with an error (inval-error) */
    ATD_STAT_ATC_EVICTIONS,     /* ATC entries removed by invalidations */
    ATD_STAT_STALE_USES,        /* ATC hits the IOMMU disagrees with */
    ATD_STAT_DMA_COMMANDS,      /* commands completed with ATD_ST_OK */
    ATD_STAT_DMA_ERRORS,        /* commands completed with an error */
    ATD_STAT_HUNG_DMA_ACCESSES, /* accesses of a hung engine (hung-dma) */
    ATD_STAT_COUNT,
};

/* Commands written to ATD_REG_CMD. */
enum {
    ATD_CMD_COPY        = 1,    /* LEN bytes from SRC to DST */
    ATD_CMD_FILL        = 2,    /* LEN bytes of PATTERN at DST */
    ATD_CMD_COMPARE     = 3,    /* LEN bytes at SRC and DST must be equal */
    ATD_CMD_ATC_FLUSH   = 4,    /* drop every ATC entry (device-local) */
    ATD_CMD_STATS_RESET = 5,
};

/* ATD_REG_STATUS values: one per failure, so tests can assert the path. */
#define ATD_ST_OK               0x00000000u
#define ATD_ST_IDLE             0x00000001u     /* no command since reset */
#define ATD_ST_BAD_CMD          0xdead0001u
#define ATD_ST_BAD_LEN          0xdead0002u     /* 0 or > ATS_TESTDEV_MAX_LEN */
#define ATD_ST_BAD_ADDR         0xdead0003u     /* range wraps around 2^64 */
#define ATD_ST_TRANSLATION      0xdead0004u     /* IOMMU refused to translate */
#define ATD_ST_DMA_READ         0xdead0005u     /* memory transaction failed */
#define ATD_ST_DMA_WRITE        0xdead0006u
#define ATD_ST_MISMATCH         0xdead0007u     /* COMPARE found a difference */
#define ATD_ST_NO_MASTER        0xdead0008u     /* bus mastering disabled */

/* Interrupt causes (MSI vector 0, or INTx when MSI is off). */
#define ATD_IRQ_DONE            0x1u            /* a command finished */

#endif
