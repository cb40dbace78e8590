/*
 * QTest for the ATS test endpoint behind intel-iommu (no guest).
 *
 * The test builds legacy-mode VT-d tables itself (root, context with
 * translation type "device-TLB", a 4-level second-level page table), or
 * scalable-mode ones (context with DTE, a PASID directory and table whose
 * RID2PASID entry points at the same second-level table), turns on queued
 * invalidation and translation, and then drives the endpoint's DMA engine
 * and the invalidation queue directly: ATC fill/hit/evict, the completion
 * knobs, bad guest input, and intel-iommu's handling of the completions: a
 * wait descriptor blocked behind a slow device, the Invalidation Time-out
 * Error (ITE) and the Invalidation Completion Error (ICE), with their
 * IQERCD records; the hung-dma engine, Function Level Reset, and the
 * fence check (intel-iommu's fence-violations).
 *
 * Copyright (c) 2026 ite-lab
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci.h"
#include "libqos/pci-pc.h"
#include "qobject/qdict.h"
#include "hw/i386/intel_iommu_internal.h"
#include "hw/pci/pci_regs.h"
#include "hw/misc/ats-testdev.h"
#include "ats-testdev-qtest.h"

#define IOMMU_BASE      0xfed90000ULL
#define ECAM_BASE       0xb0000000ULL   /* q35 PCIEXBAR, set up by the test */
#define DUT_DEVFN       QPCI_DEVFN(4, 0)
#define DUT_SID         DUT_DEVFN       /* bus 0 */

/* Guest-physical layout of the tables the test builds. */
#define ROOT_TABLE      0x100000ULL
#define CTX_TABLE       0x101000ULL
#define SL_L4           0x102000ULL
#define SL_L3           0x103000ULL
#define SL_L2           0x104000ULL
#define SL_L1           0x105000ULL
#define INV_QUEUE       0x106000ULL     /* 256 descriptors of 16 bytes */
#define WAIT_STATUS     0x107000ULL
#define PASID_DIR       0x108000ULL     /* scalable mode only */
#define PASID_TABLE     0x109000ULL
#define DATA_PHYS       0x200000ULL     /* IOVA_BASE + n maps here + n */
#define IOVA_BASE       0x40000000ULL
#define MAPPED_PAGES    16

#define SL_RW           3ULL            /* read | write */
#define ATD_PCIE_DEVCTL (0x80 + PCI_EXP_DEVCTL) /* ats-testdev's PCIe cap */
#define ATD_PCIE_DEVCAP (0x80 + PCI_EXP_DEVCAP)

typedef struct Env {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar bar;
    uint32_t iq_tail;
    bool scalable;
} Env;

static uint64_t ecam(uint16_t off)
{
    return ECAM_BASE + (DUT_DEVFN << 12) + off;
}

static void set_ats(Env *e, bool on)
{
    atd_set_ats(e->qts, ecam(0), on);
}

static uint64_t qom_get_path(Env *e, const char *path, const char *prop)
{
    QDict *rsp = qtest_qmp(e->qts,
        "{'execute': 'qom-get', 'arguments': {'path': %s, 'property': %s}}",
        path, prop);
    uint64_t val = qdict_get_int(rsp, "return");

    qobject_unref(rsp);
    return val;
}

static uint64_t qom_get_uint(Env *e, const char *prop)
{
    return qom_get_path(e, "/machine/peripheral/dut", prop);
}

static bool qom_get_bool(Env *e, const char *prop)
{
    QDict *rsp = qtest_qmp(e->qts,
        "{'execute': 'qom-get', 'arguments': {"
        "'path': '/machine/peripheral/dut', 'property': %s}}", prop);
    bool val = qdict_get_bool(rsp, "return");

    qobject_unref(rsp);
    return val;
}

/* intel-iommu's fence-violations */
static uint64_t fence(Env *e)
{
    return qom_get_path(e, "/machine/peripheral/iommu", "fence-violations");
}

static void sl_map(Env *e, uint64_t iova, uint64_t phys)
{
    qtest_writeq(e->qts, SL_L1 + 8 * ((iova >> 12) & 0x1ff), phys | SL_RW);
}

static void sl_unmap(Env *e, uint64_t iova)
{
    qtest_writeq(e->qts, SL_L1 + 8 * ((iova >> 12) & 0x1ff), 0);
}

static void vtd_write_gcmd(Env *e, uint32_t cmd, uint32_t sts)
{
    int i;

    qtest_writel(e->qts, IOMMU_BASE + DMAR_GCMD_REG, cmd);
    for (i = 0; i < 1000; i++) {
        if ((qtest_readl(e->qts, IOMMU_BASE + DMAR_GSTS_REG) & sts) == sts) {
            return;
        }
        g_usleep(1000);
    }
    g_assert_not_reached();
}

/* Queue one 128-bit descriptor and let the IOMMU fetch it. */
static void iq_submit(Env *e, uint64_t lo, uint64_t hi)
{
    qtest_writeq(e->qts, INV_QUEUE + e->iq_tail * 16, lo);
    qtest_writeq(e->qts, INV_QUEUE + e->iq_tail * 16 + 8, hi);
    e->iq_tail = (e->iq_tail + 1) % 256;
    qtest_writeq(e->qts, IOMMU_BASE + DMAR_IQT_REG, (uint64_t)e->iq_tail << 4);
}

static void submit_dev_tlb_inv(Env *e, uint16_t sid, uint64_t iova)
{
    iq_submit(e, VTD_INV_DESC_DEVICE | ((uint64_t)sid << 32), iova);
}

/* An Invalidation Wait with status write; returns the status token. */
static uint32_t submit_wait(Env *e)
{
    uint32_t token = 0x1234 + e->iq_tail;

    qtest_writel(e->qts, WAIT_STATUS, 0);
    iq_submit(e, VTD_INV_DESC_WAIT | VTD_INV_DESC_WAIT_SW |
                 ((uint64_t)token << VTD_INV_DESC_WAIT_DATA_SHIFT),
              WAIT_STATUS);
    return token;
}

static bool wait_done(Env *e, uint32_t token)
{
    return qtest_readl(e->qts, WAIT_STATUS) == token;
}

/*
 * Flush the IOMMU's IOTLB after an unmap, as a driver does. Scalable mode
 * would need a PASID-based descriptor, which is 256 bits wide: its tests
 * use 128-bit descriptors and do without (the fence check walks the tables
 * and does not look at the IOTLB).
 */
static void iotlb_flush(Env *e)
{
    if (!e->scalable) {
        iq_submit(e, VTD_INV_DESC_IOTLB | VTD_INV_DESC_IOTLB_GLOBAL, 0);
    }
}

/* A device-TLB invalidation of the 4 KiB page at @iova, then a wait. */
static void invalidate_dev_tlb(Env *e, uint64_t iova)
{
    submit_dev_tlb_inv(e, DUT_SID, iova);
    g_assert(wait_done(e, submit_wait(e)));
}

static uint32_t fsts(Env *e)
{
    return qtest_readl(e->qts, IOMMU_BASE + DMAR_FSTS_REG);
}

static uint64_t iqer(Env *e)
{
    return qtest_readq(e->qts, IOMMU_BASE + DMAR_IQER_REG);
}

static void step_ms(Env *e, unsigned ms)
{
    qtest_clock_step(e->qts, ms * 1000 * 1000LL);
}

/* The context entry's word that enables the device TLB, and its value. */
static uint64_t ctx_ats_word(Env *e)
{
    return CTX_TABLE + (e->scalable ? 32 : 16) * DUT_DEVFN;
}

static uint64_t ctx_ats_value(Env *e, bool ats)
{
    if (e->scalable) {
        return PASID_DIR | (ats ? VTD_SM_CONTEXT_ENTRY_DTE : 0) | 1;
    }
    return SL_L4 | (ats ? VTD_CONTEXT_TT_DEV_IOTLB : 0) | 1;
}

/*
 * Tables for bus 0 devfn DUT with the device TLB enabled: legacy mode
 * (translation type device-TLB), or scalable mode (DTE; RID2PASID 0 whose
 * PASID entry is second-stage with the same table).
 */
static void vtd_setup(Env *e)
{
    QTestState *qts = e->qts;
    uint64_t p;

    for (p = ROOT_TABLE; p < PASID_TABLE + 0x1000; p += 8) {
        qtest_writeq(qts, p, 0);
    }
    qtest_writeq(qts, ROOT_TABLE, CTX_TABLE | 1);
    qtest_writeq(qts, ctx_ats_word(e), ctx_ats_value(e, true));
    if (e->scalable) {
        qtest_writeq(qts, PASID_DIR, PASID_TABLE | 1);
        /* AW=2: 4-level; PGTT second-stage; domain 1 */
        qtest_writeq(qts, PASID_TABLE, SL_L4 | (2 << 2) |
                     VTD_SM_PASID_ENTRY_SLT | VTD_PASID_ENTRY_P);
        qtest_writeq(qts, PASID_TABLE + 8, 1);
    } else {
        /* AW=2: 48-bit, 4-level; domain 1 */
        qtest_writeq(qts, CTX_TABLE + 16 * DUT_DEVFN + 8, 2 | (1 << 8));
    }
    qtest_writeq(qts, SL_L4 + 8 * ((IOVA_BASE >> 39) & 0x1ff), SL_L3 | SL_RW);
    qtest_writeq(qts, SL_L3 + 8 * ((IOVA_BASE >> 30) & 0x1ff), SL_L2 | SL_RW);
    qtest_writeq(qts, SL_L2 + 8 * ((IOVA_BASE >> 21) & 0x1ff), SL_L1 | SL_RW);
    for (p = 0; p < MAPPED_PAGES; p++) {
        sl_map(e, IOVA_BASE + p * 0x1000, DATA_PHYS + p * 0x1000);
    }

    qtest_writeq(qts, IOMMU_BASE + DMAR_RTADDR_REG,
                 ROOT_TABLE | (e->scalable ? VTD_RTADDR_SMT : 0));
    vtd_write_gcmd(e, VTD_GCMD_SRTP, VTD_GSTS_RTPS);
    qtest_writeq(qts, IOMMU_BASE + DMAR_IQA_REG, INV_QUEUE);
    vtd_write_gcmd(e, VTD_GCMD_QIE, VTD_GSTS_QIES);
    vtd_write_gcmd(e, VTD_GCMD_QIE | VTD_GCMD_TE, VTD_GSTS_QIES | VTD_GSTS_TES);
}

/*
 * Start QEMU. @iommu: NULL for no vIOMMU, else extra intel-iommu
 * properties; @incoming: NULL, or where to receive a migration (then
 * env_attach() once it has arrived).
 */
static Env *env_launch(const char *iommu, const char *incoming)
{
    Env *e = g_new0(Env, 1);
    g_autofree char *iommu_arg =
        iommu ? g_strdup_printf("-device intel-iommu,id=iommu,"
                                "device-iotlb=on%s", iommu)
              : g_strdup("");
    g_autofree char *inc =
        incoming ? g_strdup_printf("-incoming %s", incoming) : g_strdup("");

    e->scalable = iommu && strstr(iommu, "x-scalable-mode=on");
    e->qts = qtest_initf("-M q35 %s "
                         "-device ats-testdev,id=dut,addr=0x4 "
                         "-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1 "
                         "%s", iommu_arg, inc);
    return e;
}

/* The test's view of the endpoint: ECAM, BAR0 mapped, bus mastering on */
static void env_attach(Env *e)
{
    g_autofree QPCIDevice *mch = NULL;

    e->bus = qpci_new_pc(e->qts, NULL);
    /* Extended config space (ATS at 0x100) needs q35's ECAM window. */
    mch = qpci_device_find(e->bus, 0);
    qpci_config_writel(mch, 0x64, 0);
    qpci_config_writel(mch, 0x60, ECAM_BASE | 1);
    e->dev = qpci_device_find(e->bus, DUT_DEVFN);
    g_assert(e->dev);
    qpci_device_enable(e->dev);
    e->bar = qpci_iomap(e->dev, 0, NULL);
}

static Env *env_start_opts(const char *iommu)
{
    Env *e = env_launch(iommu, NULL);

    env_attach(e);
    if (iommu) {
        vtd_setup(e);
    }
    return e;
}

static Env *env_start(bool with_iommu)
{
    return env_start_opts(with_iommu ? "" : NULL);
}

static void env_stop(Env *e)
{
    g_free(e->dev);
    qpci_free_pc(e->bus);
    qtest_quit(e->qts);
    g_free(e);
}

static void test_config_space(void)
{
    Env *e = env_start(false);

    g_assert_cmphex(qpci_config_readw(e->dev, PCI_VENDOR_ID), ==,
                    ATS_TESTDEV_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(e->dev, PCI_DEVICE_ID), ==,
                    ATS_TESTDEV_DEVICE_ID);
    /* ATS extended capability, version 1, disabled at reset */
    g_assert_cmphex(qtest_readl(e->qts, ecam(ATS_TESTDEV_ATS_OFFSET)) & 0xfffff,
                    ==, 0x1000f);
    g_assert_cmphex(qtest_readw(e->qts, ecam(ATS_TESTDEV_ATS_OFFSET + 6)),
                    ==, 0);
    g_assert_cmphex(atd_readl(e->dev, e->bar, ATD_REG_MAGIC),
                    ==, ATS_TESTDEV_MAGIC);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_VERSION),
                     ==, ATS_TESTDEV_REVISION);
    g_assert_cmphex(atd_readl(e->dev, e->bar, ATD_REG_STATUS), ==, ATD_ST_IDLE);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_SIZE), ==, 64);
    env_stop(e);
}

static void test_bad_input(void)
{
    Env *e = env_start(false);
    QDict *rsp;

    g_assert_cmphex(atd_run(e->dev, e->bar, 99, 0, 0, 16), ==, ATD_ST_BAD_CMD);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COPY, DATA_PHYS, DATA_PHYS,
                            0), ==, ATD_ST_BAD_LEN);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COPY, DATA_PHYS, DATA_PHYS,
                            ATS_TESTDEV_MAX_LEN + 1), ==, ATD_ST_BAD_LEN);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, UINT64_MAX - 8,
                            16), ==, ATD_ST_BAD_ADDR);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_DMA_ERRORS), ==, 4);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_DMA_COMMANDS), ==, 0);

    /* Read-only and unknown registers ignore writes; unknown reads are 0 */
    atd_writel(e->dev, e->bar, ATD_REG_MAGIC, 0);
    atd_writel(e->dev, e->bar, 0x800, 0xffffffff);
    g_assert_cmphex(atd_readl(e->dev, e->bar, ATD_REG_MAGIC),
                    ==, ATS_TESTDEV_MAGIC);
    g_assert_cmphex(atd_readl(e->dev, e->bar, 0x800), ==, 0);

    /* No bus mastering, no DMA */
    qpci_config_writew(e->dev, PCI_COMMAND, PCI_COMMAND_MEMORY);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, DATA_PHYS, 16),
                    ==, ATD_ST_NO_MASTER);

    /* A bad property is refused at realize, with the reason */
    rsp = qtest_qmp(e->qts, "{'execute': 'device_add', 'arguments': {"
                    "'driver': 'ats-testdev', 'bus': 'rp0', 'atc-size': 0}}");
    g_assert(qdict_haskey(rsp, "error"));
    g_assert(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"),
                    "atc-size must be between 1 and"));
    qobject_unref(rsp);
    env_stop(e);
}

/*
 * An intel-iommu without device-iotlb refuses the device's invalidation
 * notifier (and its Translation Requests): the device is realized anyway,
 * on the command line and hot-plugged, and leaves its ATC unused; QEMU
 * goes on.
 */
static void test_no_device_iotlb(void)
{
    QTestState *qts = qtest_init("-M q35 -device intel-iommu "
                                 "-device ats-testdev,id=dut,addr=0x4 "
                                 "-device pcie-root-port,id=rp0,bus=pcie.0,"
                                 "chassis=1");

    qtest_qmp_assert_success(qts, "{'execute': 'device_add', 'arguments': {"
                             "'driver': 'ats-testdev', 'bus': 'rp0', "
                             "'id': 'hot'}}");
    qtest_qmp_assert_success(qts, "{'execute': 'query-status'}");
    qtest_quit(qts);
}

static void test_untranslated(void)
{
    Env *e = env_start(true);

    atd_writel(e->dev, e->bar, ATD_REG_PATTERN, 0xa5a5a5a5);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE, 0x2000),
                    ==, ATD_ST_OK);
    g_assert_cmphex(qtest_readl(e->qts, DATA_PHYS + 0x1ffc), ==, 0xa5a5a5a5);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_UNTRANSLATED), ==, 2);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_REQS),
                     ==, 0);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 0);
    env_stop(e);
}

static void test_atc_fill_hit(void)
{
    Env *e = env_start(true);

    set_ats(e, true);
    qtest_memset(e->qts, DATA_PHYS, 0x5a, 0x2000);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COPY, IOVA_BASE,
                            IOVA_BASE + 0x4000, 0x2000), ==, ATD_ST_OK);
    g_assert_cmphex(qtest_readb(e->qts, DATA_PHYS + 0x5fff), ==, 0x5a);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_MISSES), ==, 4);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_REQS),
                     ==, 4);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 4);

    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE,
                            IOVA_BASE + 0x4000, 0x2000), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_HITS), ==, 4);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_STALE_USES), ==, 0);
    g_assert_cmpuint(qom_get_uint(e, "atc-hits"), ==, 4);

    /* Disabling ATS in config space empties the ATC */
    set_ats(e, false);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 0);
    env_stop(e);
}

static void test_translation_ur(void)
{
    Env *e = env_start(true);

    set_ats(e, true);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0,
                            IOVA_BASE + 0x100000, 16), ==, ATD_ST_TRANSLATION);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_UR), ==, 1);
    g_assert_cmphex(qpci_io_readq(e->dev, e->bar, ATD_REG_FAULT_ADDR), ==,
                    IOVA_BASE + 0x100000);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 0);
    env_stop(e);
}

/* Fill the ATC with the first two mapped pages. */
static void fill_two(Env *e)
{
    set_ats(e, true);
    atd_fill_two(e->dev, e->bar, IOVA_BASE);
}

/*
 * Software takes ATS away from the function (the context entry's
 * Translation Type no longer says device-TLB): the vIOMMU refuses its
 * translation requests and blocks its translated requests, so a
 * translation still in its ATC (a hit) gets it nowhere; giving ATS back
 * makes them work again.
 */
static void test_ats_refused(void)
{
    Env *e = env_start(true);
    fill_two(e);
    qtest_writeq(e->qts, ctx_ats_word(e), ctx_ats_value(e, false));
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE,
                            IOVA_BASE + 0x1000, 16), ==, ATD_ST_TRANSLATION);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_UR), ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_HITS), ==, 1);

    qtest_writeq(e->qts, ctx_ats_word(e), ctx_ats_value(e, true));
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE,
                            IOVA_BASE + 0x1000, 16), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_HITS), ==, 3);
    env_stop(e);
}

static void test_invalidate(void)
{
    Env *e = env_start(true);

    qtest_memset(e->qts, DATA_PHYS, 0, 0x2000);
    fill_two(e);
    invalidate_dev_tlb(e, IOVA_BASE + 0x1000);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_RECEIVED), ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_EVICTIONS), ==, 1);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 1);
    env_stop(e);
}

static void test_drop_knob(void)
{
    Env *e = env_start(true);

    qtest_memset(e->qts, DATA_PHYS, 0, 0x2000);
    fill_two(e);
    atd_set_bool(e->qts, "dut", "drop-inval", true);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    g_assert(!wait_done(e, submit_wait(e)));
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_DROPPED), ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 0);
    /* Even an unanswered invalidation stops the use of the translation */
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 1);
    env_stop(e);
}

/* A wait descriptor completes only after the slow device has answered. */
static void test_wait_blocked(void)
{
    Env *e = env_start(true);
    uint32_t token;

    qtest_memset(e->qts, DATA_PHYS, 0, 0x2000);
    fill_two(e);
    atd_set_uint(e->qts, "dut", "inval-delay-ms", 50);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE + 0x1000);
    token = submit_wait(e);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_RECEIVED), ==, 2);
    g_assert(!wait_done(e, token));
    step_ms(e, 49);
    g_assert(!wait_done(e, token));
    step_ms(e, 2);
    g_assert(wait_done(e, token));
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 2);
    g_assert_cmphex(fsts(e), ==, 0);
    env_stop(e);
}

/*
 * Queued invalidation cannot be disabled while a wait is pending, although
 * the queue looks empty (IQH is past the wait): the late completion must
 * not complete the wait, nor fetch descriptors, with QI disabled.
 */
static void test_qi_disable_blocked(void)
{
    Env *e = env_start(true);
    uint32_t token;
    uint64_t head;

    atd_set_uint(e->qts, "dut", "inval-delay-ms", 50);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    token = submit_wait(e);
    /* the pending wait was fetched: IQH is past it, the queue looks empty */
    head = qtest_readq(e->qts, IOMMU_BASE + DMAR_IQH_REG);
    g_assert_cmpuint(head, ==, (uint64_t)e->iq_tail << 4);
    qtest_writel(e->qts, IOMMU_BASE + DMAR_GCMD_REG, VTD_GCMD_TE);
    /* refused: QI stays enabled, the head stays where it is */
    g_assert_cmphex(qtest_readl(e->qts, IOMMU_BASE + DMAR_GSTS_REG) &
                    VTD_GSTS_QIES, ==, VTD_GSTS_QIES);
    g_assert_cmpuint(qtest_readq(e->qts, IOMMU_BASE + DMAR_IQH_REG), ==, head);
    /* the wait completes with the device */
    g_assert(!wait_done(e, token));
    step_ms(e, 51);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_RECEIVED), ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 1);
    g_assert(wait_done(e, token));
    g_assert_cmphex(fsts(e), ==, 0);
    env_stop(e);
}

/*
 * A device that never answers: after devtlb-timeout-ms the IOMMU reports
 * ITE with the device's source-id, aborts the wait (no status write),
 * raises a fault event, fetches nothing more until ITE is cleared, and
 * resumes when it is.
 */
static void test_ite_timeout(void)
{
    Env *e = env_start(true);
    uint32_t token;

    atd_set_bool(e->qts, "dut", "drop-inval", true);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    token = submit_wait(e);
    step_ms(e, 99);
    g_assert_cmphex(fsts(e), ==, 0);
    step_ms(e, 2);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ITESID_MASK, ==,
                    VTD_IQER_ITESID(DUT_SID));
    g_assert(!wait_done(e, token));
    g_assert_cmphex(qtest_readl(e->qts, IOMMU_BASE + DMAR_FECTL_REG) &
                    VTD_FECTL_IP, ==, VTD_FECTL_IP);
    /* the aborted wait was consumed: the head has reached the tail */
    g_assert_cmpuint(qtest_readq(e->qts, IOMMU_BASE + DMAR_IQH_REG), ==,
                     (uint64_t)e->iq_tail << 4);

    /* halted: a new wait is not fetched ... */
    token = submit_wait(e);
    step_ms(e, 10);
    g_assert(!wait_done(e, token));
    /* ... until software clears ITE */
    qtest_writel(e->qts, IOMMU_BASE + DMAR_FSTS_REG, VTD_FSTS_ITE);
    g_assert(wait_done(e, token));
    g_assert_cmphex(fsts(e), ==, 0);
    env_stop(e);
}

/* Hardware that does not report the ITE source-id (ite-sid=off). */
static void test_ite_no_sid(void)
{
    Env *e = env_start_opts(",ite-sid=off");

    atd_set_bool(e->qts, "dut", "drop-inval", true);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    submit_wait(e);
    step_ms(e, 101);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ITESID_MASK, ==, 0);
    env_stop(e);
}

/* No device behind the source-id: nobody answers, the request times out. */
static void test_ite_no_device(void)
{
    Env *e = env_start(true);

    submit_dev_tlb_inv(e, 0x0300, IOVA_BASE);
    submit_wait(e);
    step_ms(e, 101);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ITESID_MASK, ==, VTD_IQER_ITESID(0x300));
    env_stop(e);
}

/* A completion with a wrong tag is an ICE; the request still times out. */
static void test_ice(void)
{
    Env *e = env_start(true);

    atd_set_bool(e->qts, "dut", "inval-error", true);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    submit_wait(e);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ICE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ICESID_MASK, ==,
                    VTD_IQER_ICESID(DUT_SID));
    step_ms(e, 101);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ICE | VTD_FSTS_ITE);
    env_stop(e);
}

/* An answer after the timeout is unexpected too: ITE, then ICE. */
static void test_late_completion(void)
{
    Env *e = env_start(true);

    atd_set_uint(e->qts, "dut", "inval-delay-ms", 150);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    submit_wait(e);
    step_ms(e, 101);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    step_ms(e, 50);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE | VTD_FSTS_ICE);
    env_stop(e);
}

/* System reset forgets outstanding invalidations: no ITE afterwards. */
static void test_ite_reset(void)
{
    Env *e = env_start(true);

    atd_set_bool(e->qts, "dut", "drop-inval", true);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    submit_wait(e);
    qtest_qmp_assert_success(e->qts, "{'execute': 'system_reset'}");
    qtest_qmp_eventwait(e->qts, "RESET");
    step_ms(e, 200);
    g_assert_cmphex(fsts(e), ==, 0);
    g_assert_cmphex(iqer(e), ==, 0);
    env_stop(e);
}

/*
 * A translation the IOMMU no longer has, used from the ATC, is counted:
 * the driver bug where the IOTLB is flushed after an unmap but the device
 * TLB is not.
 */
static void test_stale_use(void)
{
    Env *e = env_start(true);

    qtest_memset(e->qts, DATA_PHYS, 0, 0x2000);
    fill_two(e);
    sl_unmap(e, IOVA_BASE);
    iq_submit(e, VTD_INV_DESC_IOTLB | VTD_INV_DESC_IOTLB_GLOBAL, 0);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE,
                            IOVA_BASE + 0x1000, 16), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_STALE_USES), ==, 1);
    env_stop(e);
}

#define SCALABLE ",x-scalable-mode=on"

/* Page 0 in the ATC and FILL'ed once: the command a hung engine repeats */
static void fill_page0(Env *e)
{
    fill_two(e);
    atd_writel(e->dev, e->bar, ATD_REG_PATTERN, 0x11111111);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE, 16),
                    ==, ATD_ST_OK);
}

/*
 * The driver frees a page a hung device still writes: the mapping is
 * removed, the device-TLB invalidation times out (ITE), and the device
 * keeps writing through its ATC. Each such write is a fence violation;
 * none is counted before the guest saw the invalidation end: it has
 * handled the ITE (and could have blocked the device's ATS meanwhile),
 * and a wait it queued then completed.
 */
static void do_fence_hung(const char *mode)
{
    Env *e = env_start_opts(mode);
    uint64_t n;

    fill_page0(e);
    atd_set_bool(e->qts, "dut", "hung-dma", true);
    step_ms(e, 25);
    g_assert_cmpuint(qom_get_uint(e, "hung-dma-accesses"), >=, 2);
    g_assert_cmpuint(fence(e), ==, 0);  /* the mapping is still there */

    sl_unmap(e, IOVA_BASE);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    submit_wait(e);
    step_ms(e, 50);
    /* not finished for the guest yet: the window is legitimate */
    g_assert_cmpuint(fence(e), ==, 0);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_DROPPED), ==, 1);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 2);

    step_ms(e, 51);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    /* timed out, but the guest has not handled the ITE yet */
    step_ms(e, 30);
    g_assert_cmpuint(fence(e), ==, 0);

    /* it clears ITE and a wait it queues completes: it goes on */
    submit_wait(e);
    qtest_writel(e->qts, IOMMU_BASE + DMAR_FSTS_REG, VTD_FSTS_ITE);
    qtest_writel(e->qts, DATA_PHYS, 0);
    n = fence(e);
    step_ms(e, 30);
    g_assert_cmpuint(fence(e), >=, n + 2);
    g_assert_cmphex(qtest_readl(e->qts, DATA_PHYS), ==, 0x11111111);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_HUNG_DMA_ACCESSES),
                     ==, qom_get_uint(e, "hung-dma-accesses"));
    /* the check leaves no trace the guest can see */
    g_assert_cmphex(fsts(e), ==, 0);

    /* no longer hung: the engine stops */
    atd_set_bool(e->qts, "dut", "hung-dma", false);
    n = fence(e);
    step_ms(e, 30);
    g_assert_cmpuint(fence(e), ==, n);
    env_stop(e);
}

static void test_fence_hung(void)
{
    do_fence_hung("");
}

static void test_fence_hung_sm(void)
{
    do_fence_hung(SCALABLE);
}

/*
 * A healthy device: the invalidation evicts the translation, and the
 * next access asks again and is refused. Nothing to count.
 */
static void test_fence_healthy(void)
{
    Env *e = env_start(true);

    fill_page0(e);
    sl_unmap(e, IOVA_BASE);
    iotlb_flush(e);
    invalidate_dev_tlb(e, IOVA_BASE);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE, 16),
                    ==, ATD_ST_TRANSLATION);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE + 0x1000,
                            16), ==, ATD_ST_OK);
    g_assert_cmpuint(fence(e), ==, 0);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_HUNG_DMA_ACCESSES),
                     ==, 0);
    env_stop(e);
}

/*
 * The legitimate window: a translation served AFTER an invalidation was
 * sent, used after the guest cleared the PTE and before it sent the next
 * invalidation, is no violation, even once that older invalidation has
 * finished. Twice: served after an invalidation that had finished, and
 * served while one was outstanding (the device asked again between
 * evicting and answering), which only the sequence numbers tell apart.
 */
static void do_fence_window(const char *mode)
{
    Env *e = env_start_opts(mode);
    uint32_t token;

    qtest_memset(e->qts, DATA_PHYS, 0, 0x2000);
    fill_two(e);
    invalidate_dev_tlb(e, IOVA_BASE);
    fill_two(e);                        /* page 0 served again */
    sl_unmap(e, IOVA_BASE);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE,
                            IOVA_BASE + 0x1000, 16), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_STALE_USES), ==, 1);
    g_assert_cmpuint(fence(e), ==, 0);
    invalidate_dev_tlb(e, IOVA_BASE);

    sl_map(e, IOVA_BASE, DATA_PHYS);
    atd_set_uint(e->qts, "dut", "inval-delay-ms", 50);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE + 0x1000);
    token = submit_wait(e);
    fill_two(e);                        /* page 1 served while outstanding */
    step_ms(e, 51);
    g_assert(wait_done(e, token));
    sl_unmap(e, IOVA_BASE + 0x1000);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE,
                            IOVA_BASE + 0x1000, 16), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_STALE_USES), ==, 2);
    g_assert_cmpuint(fence(e), ==, 0);
    env_stop(e);
}

static void test_fence_window(void)
{
    do_fence_window("");
}

static void test_fence_window_sm(void)
{
    do_fence_window(SCALABLE);
}

/*
 * The IOMMU took ATS away from the hung device (context entry without the
 * device TLB) while its invalidation was outstanding: its translated
 * requests are blocked, so none gets through the removed mapping after the
 * time-out and nothing is counted.
 */
static void do_fence_refused(const char *mode)
{
    Env *e = env_start_opts(mode);

    fill_page0(e);
    atd_set_bool(e->qts, "dut", "hung-dma", true);
    sl_unmap(e, IOVA_BASE);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    submit_wait(e);
    step_ms(e, 50);
    qtest_writeq(e->qts, ctx_ats_word(e), ctx_ats_value(e, false));
    qtest_writel(e->qts, DATA_PHYS, 0);
    step_ms(e, 51);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    step_ms(e, 50);
    g_assert_cmpuint(fence(e), ==, 0);
    /* nor once the guest has handled the ITE and goes on */
    submit_wait(e);
    qtest_writel(e->qts, IOMMU_BASE + DMAR_FSTS_REG, VTD_FSTS_ITE);
    step_ms(e, 30);
    g_assert_cmpuint(fence(e), ==, 0);
    g_assert_cmphex(qtest_readl(e->qts, DATA_PHYS), ==, 0);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_UR), >=, 4);
    env_stop(e);
}

static void test_fence_refused(void)
{
    do_fence_refused("");
}

static void test_fence_refused_sm(void)
{
    do_fence_refused(SCALABLE);
}

/*
 * Function Level Reset: DevCap advertises it; Initiate FLR empties the
 * ATC, disables ATS and bus mastering (config space reset), resets the
 * registers, stops a hung engine, and drops the completions the function
 * owed, so the IOMMU times the request out. The statistics stay.
 */
static void test_flr(void)
{
    Env *e = env_start(true);
    uint32_t bar0 = qpci_config_readl(e->dev, PCI_BASE_ADDRESS_0);
    uint64_t hung;

    g_assert_cmphex(qtest_readl(e->qts, ecam(ATD_PCIE_DEVCAP)) &
                    PCI_EXP_DEVCAP_FLR, ==, PCI_EXP_DEVCAP_FLR);
    fill_page0(e);
    atd_set_bool(e->qts, "dut", "hung-dma", true);
    step_ms(e, 15);
    hung = atd_stat(e->dev, e->bar, ATD_STAT_HUNG_DMA_ACCESSES);
    g_assert_cmpuint(hung, >=, 1);
    atd_set_bool(e->qts, "dut", "hung-dma", false);
    atd_set_uint(e->qts, "dut", "inval-delay-ms", 50);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE + 0x1000);
    submit_wait(e);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 1);
    atd_set_bool(e->qts, "dut", "hung-dma", true);

    qtest_writew(e->qts, ecam(ATD_PCIE_DEVCTL),
                 qtest_readw(e->qts, ecam(ATD_PCIE_DEVCTL)) |
                 PCI_EXP_DEVCTL_BCR_FLR);
    g_assert_cmphex(qtest_readw(e->qts, ecam(ATD_PCIE_DEVCTL)) &
                    PCI_EXP_DEVCTL_BCR_FLR, ==, 0);
    g_assert_cmphex(qtest_readw(e->qts, ecam(ATS_TESTDEV_ATS_OFFSET + 6)),
                    ==, 0);
    g_assert_cmphex(qtest_readw(e->qts, ecam(PCI_COMMAND)) &
                    PCI_COMMAND_MASTER, ==, 0);
    /* software restores config space after an FLR */
    qpci_config_writel(e->dev, PCI_BASE_ADDRESS_0, bar0);
    qpci_device_enable(e->dev);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 0);
    g_assert_cmphex(atd_readl(e->dev, e->bar, ATD_REG_STATUS), ==, ATD_ST_IDLE);
    /* fill_two's two reads, then page 0 asked again for fill_page0's write */
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_MISSES), ==, 3);

    step_ms(e, 101);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 0);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_HUNG_DMA_ACCESSES),
                     ==, hung);

    /* the function works again once software sets it up */
    atd_set_bool(e->qts, "dut", "hung-dma", false);
    set_ats(e, true);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE, 16),
                    ==, ATD_ST_OK);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 1);
    env_stop(e);
}

/*
 * verify-atc checks a stale ATC hit without a side effect the guest can
 * see: no fault recorded, FSTS.PPF clear (it used to record a fault).
 */
static void do_verify_no_fault(const char *mode)
{
    Env *e = env_start_opts(mode);

    qtest_memset(e->qts, DATA_PHYS, 0, 0x2000);
    fill_two(e);
    sl_unmap(e, IOVA_BASE);
    iotlb_flush(e);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE,
                            IOVA_BASE + 0x1000, 16), ==, ATD_ST_OK);
    g_assert_cmphex(fsts(e), ==, 0);       /* no PPF (nor IQE) */
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_STALE_USES), ==, 1);
    g_assert_cmphex(qtest_readq(e->qts, IOMMU_BASE + DMAR_FRCD_REG_OFFSET + 8) &
                    VTD_FRCD_F, ==, 0);
    env_stop(e);
}

static void test_verify_no_fault(void)
{
    do_verify_no_fault("");
}

static void test_verify_no_fault_sm(void)
{
    do_verify_no_fault(SCALABLE);
}

/*
 * qom-set PATH PROP VALUE must fail; returns its error's description
 * (g_free() it).
 */
static char *qom_set_error(Env *e, const char *path, const char *prop,
                           int64_t value)
{
    QDict *rsp = qtest_qmp(e->qts, "{'execute': 'qom-set', 'arguments': {"
                           "'path': %s, 'property': %s, 'value': %" PRId64
                           "}}", path, prop, value);
    char *desc;

    g_assert(qdict_haskey(rsp, "error"));
    desc = g_strdup(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"));
    qobject_unref(rsp);
    return desc;
}

/* Bad values are refused with the reason and change nothing. */
static void test_bad_props(void)
{
    Env *e = env_start(true);
    g_autofree char *low = NULL;
    g_autofree char *high = NULL;
    g_autofree char *ro = NULL;
    g_autofree char *type = NULL;
    g_autofree char *stat = NULL;
    QDict *rsp;

    low = qom_set_error(e, "/machine/peripheral/dut",
                        "hung-dma-interval-ms", 0);
    g_assert(strstr(low, "hung-dma-interval-ms must be between 1 and"));
    high = qom_set_error(e, "/machine/peripheral/dut",
                         "hung-dma-interval-ms", 60001);
    g_assert(strstr(high, "not 60001"));
    g_assert_cmpuint(qom_get_uint(e, "hung-dma-interval-ms"), ==, 10);
    atd_set_uint(e->qts, "dut", "hung-dma-interval-ms", 20);
    g_assert_cmpuint(qom_get_uint(e, "hung-dma-interval-ms"), ==, 20);

    rsp = qtest_qmp(e->qts, "{'execute': 'device_add', 'arguments': {"
                    "'driver': 'ats-testdev', 'bus': 'rp0', "
                    "'hung-dma-interval-ms': 0}}");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);

    /* the plain knobs are booleans, also at run time */
    type = qom_set_error(e, "/machine/peripheral/dut", "verify-atc", 5);
    g_assert(strstr(type, "verify-atc"));
    g_assert(qom_get_bool(e, "verify-atc"));
    atd_set_bool(e->qts, "dut", "verify-atc", false);
    g_assert(!qom_get_bool(e, "verify-atc"));
    atd_set_bool(e->qts, "dut", "drop-inval", true);
    g_assert(qom_get_bool(e, "drop-inval"));
    g_assert(!qom_get_bool(e, "inval-error"));

    /* the statistics are read-only */
    stat = qom_set_error(e, "/machine/peripheral/dut", "inval-received", 5);
    g_assert_cmpuint(qom_get_uint(e, "inval-received"), ==, 0);

    /* the fence counter is read-only */
    ro = qom_set_error(e, "/machine/peripheral/iommu", "fence-violations", 5);
    g_assert_cmpuint(fence(e), ==, 0);
    env_stop(e);
}

/*
 * Migrate @src to a new QEMU started with the same command line (no
 * knobs set) and stop @src; returns the destination.
 */
static Env *env_migrate(Env *src, const char *iommu)
{
    g_autofree char *sock = g_strdup_printf("%s/ats-testdev-test-%d.sock",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Env *d = env_launch(iommu, uri);

    migrate_and_wait(src->qts, d->qts, uri);
    unlink(sock);
    env_attach(d);
    d->iq_tail = src->iq_tail;
    env_stop(src);
    return d;
}

/*
 * Migration while the device owes a delayed Invalidate Completion: the
 * destination answers it when it is due, and the wait behind it
 * completes without ITE. The knob, the ATC and the statistics came along.
 */
static void test_migrate_owed(void)
{
    Env *e = env_start(true);
    uint32_t token;

    qtest_memset(e->qts, DATA_PHYS, 0, 0x2000);
    fill_two(e);
    atd_set_uint(e->qts, "dut", "inval-delay-ms", 50);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    token = submit_wait(e);
    g_assert(!wait_done(e, token));

    e = env_migrate(e, "");
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_RECEIVED), ==, 1);
    g_assert(!wait_done(e, token));
    step_ms(e, 49);
    g_assert(!wait_done(e, token));
    step_ms(e, 2);
    g_assert(wait_done(e, token));
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 1);
    step_ms(e, 200);
    g_assert_cmphex(fsts(e), ==, 0);

    /* page 1 is still cached: a hit, no Translation Request */
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 1);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE + 0x1000,
                            IOVA_BASE + 0x1000, 16), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_HITS), ==, 2);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_REQS),
                     ==, 2);

    /* still a slow device */
    g_assert_cmpuint(qom_get_uint(e, "inval-delay-ms"), ==, 50);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE + 0x1000);
    token = submit_wait(e);
    g_assert(!wait_done(e, token));
    step_ms(e, 51);
    g_assert(wait_done(e, token));
    g_assert_cmphex(fsts(e), ==, 0);
    env_stop(e);
}

/* A hung engine keeps running on the destination, through its ATC. */
static void test_migrate_hung(void)
{
    Env *e = env_start(true);
    uint64_t n;

    fill_page0(e);
    atd_set_uint(e->qts, "dut", "hung-dma-interval-ms", 5);
    atd_set_bool(e->qts, "dut", "hung-dma", true);
    step_ms(e, 12);
    n = qom_get_uint(e, "hung-dma-accesses");
    g_assert_cmpuint(n, >=, 2);

    e = env_migrate(e, "");
    g_assert_cmpuint(qom_get_uint(e, "hung-dma-accesses"), ==, n);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 2);
    qtest_writel(e->qts, DATA_PHYS, 0);
    step_ms(e, 30);
    g_assert_cmpuint(qom_get_uint(e, "hung-dma-accesses"), >=, n + 2);
    g_assert_cmphex(qtest_readl(e->qts, DATA_PHYS), ==, 0x11111111);
    env_stop(e);
}

/* Delays beyond 2^32 ns (4.3 s) of inval-delay-ms and hung-dma-interval-ms */
static void test_long_delays(void)
{
    Env *e = env_start(true);

    atd_set_uint(e->qts, "dut", "inval-delay-ms", 5000);
    submit_dev_tlb_inv(e, DUT_SID, IOVA_BASE);
    submit_wait(e);
    step_ms(e, 4999);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 0);
    step_ms(e, 2);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 1);
    /* (the IOMMU had timed it out: ITE, then ICE for the late answer) */
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE | VTD_FSTS_ICE);
    qtest_writel(e->qts, IOMMU_BASE + DMAR_FSTS_REG,
                 VTD_FSTS_ITE | VTD_FSTS_ICE);

    fill_page0(e);
    atd_set_uint(e->qts, "dut", "hung-dma-interval-ms", 60000);
    atd_set_bool(e->qts, "dut", "hung-dma", true);
    step_ms(e, 59999);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_HUNG_DMA_ACCESSES),
                     ==, 0);
    step_ms(e, 2);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_HUNG_DMA_ACCESSES),
                     ==, 1);
    env_stop(e);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/ats-testdev/config-space", test_config_space);
    qtest_add_func("/ats-testdev/bad-input", test_bad_input);
    qtest_add_func("/ats-testdev/vtd/no-device-iotlb", test_no_device_iotlb);
    qtest_add_func("/ats-testdev/vtd/untranslated", test_untranslated);
    qtest_add_func("/ats-testdev/vtd/atc-fill-hit", test_atc_fill_hit);
    qtest_add_func("/ats-testdev/vtd/translation-ur", test_translation_ur);
    qtest_add_func("/ats-testdev/vtd/ats-refused", test_ats_refused);
    qtest_add_func("/ats-testdev/vtd/invalidate", test_invalidate);
    qtest_add_func("/ats-testdev/vtd/drop", test_drop_knob);
    qtest_add_func("/ats-testdev/vtd/wait-blocked", test_wait_blocked);
    qtest_add_func("/ats-testdev/vtd/qi-disable-blocked",
                   test_qi_disable_blocked);
    qtest_add_func("/ats-testdev/vtd/ite/timeout", test_ite_timeout);
    qtest_add_func("/ats-testdev/vtd/ite/no-sid", test_ite_no_sid);
    qtest_add_func("/ats-testdev/vtd/ite/no-device", test_ite_no_device);
    qtest_add_func("/ats-testdev/vtd/ite/late-completion",
                   test_late_completion);
    qtest_add_func("/ats-testdev/vtd/ite/reset", test_ite_reset);
    qtest_add_func("/ats-testdev/vtd/ice", test_ice);
    qtest_add_func("/ats-testdev/vtd/stale-use", test_stale_use);
    qtest_add_func("/ats-testdev/vtd/verify-no-fault", test_verify_no_fault);
    qtest_add_func("/ats-testdev/vtd-sm/verify-no-fault",
                   test_verify_no_fault_sm);
    qtest_add_func("/ats-testdev/vtd/flr", test_flr);
    qtest_add_func("/ats-testdev/vtd/bad-props", test_bad_props);
    qtest_add_func("/ats-testdev/vtd/fence/hung", test_fence_hung);
    qtest_add_func("/ats-testdev/vtd-sm/fence/hung", test_fence_hung_sm);
    qtest_add_func("/ats-testdev/vtd/fence/healthy", test_fence_healthy);
    qtest_add_func("/ats-testdev/vtd/fence/window", test_fence_window);
    qtest_add_func("/ats-testdev/vtd-sm/fence/window", test_fence_window_sm);
    qtest_add_func("/ats-testdev/vtd/fence/refused", test_fence_refused);
    qtest_add_func("/ats-testdev/vtd-sm/fence/refused",
                   test_fence_refused_sm);
    qtest_add_func("/ats-testdev/vtd/long-delays", test_long_delays);
    qtest_add_func("/ats-testdev/vtd/migrate/owed-completion",
                   test_migrate_owed);
    qtest_add_func("/ats-testdev/vtd/migrate/hung", test_migrate_hung);
    return g_test_run();
}
