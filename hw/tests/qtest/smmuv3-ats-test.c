/*
 * QTest for ATS behind the Arm SMMUv3 (no guest), on the virt machine.
 *
 * The test plays the guest's part itself: it numbers the PCIe root port's
 * bus, opens its memory window and programs the ATS test endpoint behind
 * it (01:00.0, StreamID 0x100); it builds a linear stream table whose STE
 * for the endpoint translates with stage 1 (a context descriptor and a
 * 4-level, 4 KiB granule table in guest RAM), with STE.EATS as each case
 * needs, sets up the command and event queues and enables the SMMU. Then
 * it drives the endpoint's DMA engine and knobs and the command queue:
 * IDR0.ATS and the properties (ats, atc-inv-timeout-ms), ATS Translation
 * Requests refused (F_BAD_ATS_TREQ) and granted by STE.EATS, translated
 * requests blocked when EATS is 0, CMD_ATC_INV reaching the device,
 * CMD_SYNC waiting for its answer and timing out (CMDQ_CONS.ERR =
 * CERROR_ATC_INV_SYNC, GERROR.CMDQ_ERR) when it never comes, the CMD_SYNC
 * executed again once the error is acknowledged, malformed commands
 * (CERROR_ILL, QEMU stays up), surprise removal with an invalidation in
 * flight, reset, CMDQEN=0 and migration with a CMD_SYNC outstanding. It
 * also checks that the endpoint works on virt with no vIOMMU and that it
 * is hot-plugged and unplugged in a root port's slot.
 *
 * Copyright (c) 2026 ite-lab
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci.h"
#include "libqos/generic-pcihost.h"
#include "qobject/qdict.h"
#include "hw/pci/pci_regs.h"
#include "hw/misc/ats-testdev.h"
#include "ats-testdev-qtest.h"

/*
 * virt: an arm-smmuv3 created with -device is the first device of the
 * platform bus; the machine's own (iommu=smmuv3) has a fixed address.
 */
#define SMMU_BASE           0x0c000000ULL
#define SMMU_LEGACY_BASE    0x09050000ULL
#define ECAM_BASE           0x4010000000ULL /* high ECAM (-cpu max) */

/* SMMUv3 registers (IHI 0070), page 0; page 1 aliases it in QEMU */
#define SMMU_IDR0           0x00
#define  IDR0_ATS           (1u << 10)
#define SMMU_IDR1           0x04
#define  IDR1_SSIDSIZE(v)   (((v) >> 6) & 0x1f)
#define SMMU_CR0            0x20
#define  CR0_SMMUEN         (1u << 0)
#define  CR0_EVENTQEN       (1u << 2)
#define  CR0_CMDQEN         (1u << 3)
#define  CR0_ATSCHK         (1u << 4)
/* enabled, as Linux enables it: translated requests checked (ATSCHK) */
#define  CR0_ON             (CR0_SMMUEN | CR0_EVENTQEN | CR0_CMDQEN | \
                             CR0_ATSCHK)
#define SMMU_CR0ACK         0x24
#define SMMU_GERROR         0x60
#define  GERROR_CMDQ_ERR    (1u << 0)
#define SMMU_GERRORN        0x64
#define SMMU_STRTAB_BASE    0x80
#define SMMU_STRTAB_BASE_CFG 0x88
#define SMMU_CMDQ_BASE      0x90
#define SMMU_CMDQ_PROD      0x98
#define SMMU_CMDQ_CONS      0x9c
#define  CONS_ERR(v)        (((v) >> 24) & 0x7f)
#define SMMU_EVENTQ_BASE    0xa0
#define SMMU_EVENTQ_PROD    0xa8
#define SMMU_EVENTQ_CONS    0xac

#define CERROR_NONE         0
#define CERROR_ILL          1
#define CERROR_ATC_INV_SYNC 3

/* Commands */
#define CMD_CFGI_STE        0x03
#define CMD_CFGI_STE_RANGE  0x04
#define CMD_TLBI_NSNH_ALL   0x30
#define CMD_ATC_INV         0x40
#define  ATC_INV_G          (1u << 9)
#define  CMD_SSV            (1u << 11)
#define  CMD_SSID(s)        ((uint32_t)(s) << 12)
#define CMD_SYNC            0x46
#define  SYNC_CS(cs)        ((uint32_t)(cs) << 12)

/* Events */
#define EVT_F_BAD_ATS_TREQ      0x05
#define EVT_F_TRANSL_FORBIDDEN  0x07

/* Guest RAM (virt's starts at 1 GiB): the SMMU's structures, the data */
#define STRTAB          0x40100000ULL   /* 1024 STEs of 64 bytes */
#define STRTAB_LOG2     10
#define CD_ADDR         0x40110000ULL
#define CMDQ            0x40111000ULL   /* 256 commands of 16 bytes */
#define CMDQ_LOG2       8
#define EVTQ            0x40112000ULL   /* 128 events of 32 bytes */
#define EVTQ_LOG2       7
#define PT_L0           0x40113000ULL
#define PT_L1           0x40114000ULL
#define PT_L2           0x40115000ULL
#define PT_L3           0x40116000ULL
#define DATA_PHYS       0x40200000ULL   /* IOVA_BASE + n maps here + n */
#define IOVA_BASE       0x40000000ULL
#define MAPPED_PAGES    16

#define RP_DEVFN        QPCI_DEVFN(1, 0)
#define RP2_DEVFN       QPCI_DEVFN(2, 0)
#define SEC_BUS         1
#define DUT_DEVFN       ((SEC_BUS << 8) | QPCI_DEVFN(0, 0))
#define DUT_SID         0x100
#define HOT_BUS         2
#define HOT_DEVFN       ((HOT_BUS << 8) | QPCI_DEVFN(0, 0))
#define HOT_SID         0x200
#define WINDOW_BASE     0x10000000u     /* rp1's memory window: 1 MiB */
#define WINDOW_LIMIT    0x100fffffu
#define DUT_BAR0        WINDOW_BASE
#define WINDOW2_BASE    0x10100000u     /* rp2's */
#define WINDOW2_LIMIT   0x101fffffu

#define TIMEOUT_MS      100             /* atc-inv-timeout-ms's default */

typedef struct Env {
    QTestState *qts;
    QGenericPCIBus gbus;
    QPCIDevice *rp;
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t smmu;          /* base of the SMMU's registers */
    uint32_t prod;          /* command queue: the next index, with wrap */
    uint32_t evt_cons;      /* event queue: the next to read, with wrap */
    char *trace_log;
} Env;

/* ---- Registers ---- */

static uint32_t smmu_read(Env *e, uint32_t reg)
{
    return qtest_readl(e->qts, e->smmu + reg);
}

static void smmu_write(Env *e, uint32_t reg, uint32_t val)
{
    qtest_writel(e->qts, e->smmu + reg, val);
}

static void step_ms(Env *e, unsigned ms)
{
    qtest_clock_step(e->qts, ms * 1000 * 1000LL);
}

/* The error now in CMDQ_CONS, and whether GERROR.CMDQ_ERR is active */
static uint32_t cmdq_err(Env *e)
{
    return CONS_ERR(smmu_read(e, SMMU_CMDQ_CONS));
}

static bool gerror_cmdq_active(Env *e)
{
    return (smmu_read(e, SMMU_GERROR) ^ smmu_read(e, SMMU_GERRORN)) &
           GERROR_CMDQ_ERR;
}

/* The guest acknowledges the active global errors (GERRORN = GERROR) */
static void gerror_ack(Env *e)
{
    smmu_write(e, SMMU_GERRORN, smmu_read(e, SMMU_GERROR));
}

/* ---- The endpoint ---- */

static uint64_t ecam(int devfn, uint16_t off)
{
    return ECAM_BASE + ((uint64_t)devfn << 12) + off;
}

/* ATS Enable in the endpoint's ATS capability (extended config space) */
static void set_ats(Env *e, bool on)
{
    atd_set_ats(e->qts, ecam(DUT_DEVFN, 0), on);
}

/* ---- The SMMU's tables ---- */

static uint64_t ste_addr(uint32_t sid)
{
    return STRTAB + 64 * sid;
}

/*
 * The endpoint's STE: valid, stage 1 translates (Config 0b101) with the
 * one context descriptor, stage 2 bypassed; EATS as given.
 */
static void ste_write_sid(Env *e, uint32_t sid, unsigned eats)
{
    uint64_t dw0 = CD_ADDR | (0x5 << 1) | 1;
    uint64_t dw1 = (uint64_t)eats << 28;

    qtest_writeq(e->qts, ste_addr(sid), dw0);
    qtest_writeq(e->qts, ste_addr(sid) + 8, dw1);
}

static void ste_write(Env *e, unsigned eats)
{
    ste_write_sid(e, DUT_SID, eats);
}

static void pt_map(Env *e, uint64_t iova, uint64_t phys)
{
    /* page, AF, inner shareable, AP: read/write */
    qtest_writeq(e->qts, PT_L3 + 8 * ((iova >> 12) & 0x1ff),
                 phys | (1 << 10) | (3 << 8) | 3);
}

/*
 * Context descriptor: TTB0 only (T0SZ 16, 4 KiB granule, EPD1), AArch64,
 * 44-bit IPS, faults recorded (R), aborts terminate with an abort (A),
 * ASID 1. The page table maps MAPPED_PAGES pages at IOVA_BASE.
 */
static void tables_setup(Env *e)
{
    uint64_t p;

    qtest_memset(e->qts, STRTAB, 0, PT_L3 + 0x1000 - STRTAB);
    qtest_writel(e->qts, CD_ADDR, 16 | (1u << 30) | (1u << 31));
    qtest_writel(e->qts, CD_ADDR + 4,
                 4 | (1 << 9) | (1 << 13) | (1 << 14) | (1 << 16));
    qtest_writeq(e->qts, CD_ADDR + 8, PT_L0);
    qtest_writeq(e->qts, PT_L0 + 8 * ((IOVA_BASE >> 39) & 0x1ff), PT_L1 | 3);
    qtest_writeq(e->qts, PT_L1 + 8 * ((IOVA_BASE >> 30) & 0x1ff), PT_L2 | 3);
    qtest_writeq(e->qts, PT_L2 + 8 * ((IOVA_BASE >> 21) & 0x1ff), PT_L3 | 3);
    for (p = 0; p < MAPPED_PAGES; p++) {
        pt_map(e, IOVA_BASE + p * 0x1000, DATA_PHYS + p * 0x1000);
    }
}

/* ---- The command queue ---- */

#define QMASK(log2)     ((2u << (log2)) - 1)

static void cmd_put(Env *e, uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3)
{
    uint64_t slot = CMDQ + 16 * (e->prod & ((1u << CMDQ_LOG2) - 1));

    qtest_writel(e->qts, slot, w0);
    qtest_writel(e->qts, slot + 4, w1);
    qtest_writel(e->qts, slot + 8, w2);
    qtest_writel(e->qts, slot + 12, w3);
}

/* Queue one command and publish it; returns its index (with wrap) */
static uint32_t cmd_submit(Env *e, uint32_t w0, uint32_t w1, uint32_t w2,
                           uint32_t w3)
{
    uint32_t idx = e->prod;

    cmd_put(e, w0, w1, w2, w3);
    e->prod = (e->prod + 1) & QMASK(CMDQ_LOG2);
    smmu_write(e, SMMU_CMDQ_PROD, e->prod);
    return idx;
}

static uint32_t cons_index(Env *e)
{
    return smmu_read(e, SMMU_CMDQ_CONS) & QMASK(CMDQ_LOG2);
}

/* Has the SMMU consumed the command at @idx? */
static bool consumed(Env *e, uint32_t idx)
{
    uint32_t done = (cons_index(e) - idx) & QMASK(CMDQ_LOG2);
    uint32_t queued = (e->prod - idx) & QMASK(CMDQ_LOG2);

    return done >= 1 && done <= queued;
}

static uint32_t submit_sync(Env *e)
{
    return cmd_submit(e, CMD_SYNC | SYNC_CS(0), 0, 0, 0);
}

/* CMD_ATC_INV of 2^size pages at @iova, no substream */
static void submit_atc_inv(Env *e, uint32_t sid, uint64_t iova, unsigned size)
{
    cmd_submit(e, CMD_ATC_INV, sid, (uint32_t)iova | size, iova >> 32);
}

/* CMD_ATC_INV of one page and a CMD_SYNC; returns the sync's index */
static uint32_t atc_inv_sync(Env *e, uint64_t iova)
{
    submit_atc_inv(e, DUT_SID, iova, 0);
    return submit_sync(e);
}

/* A driver's STE update: CMD_CFGI_STE, TLB flush, CMD_SYNC */
static void ste_update(Env *e, unsigned eats)
{
    ste_write(e, eats);
    cmd_submit(e, CMD_CFGI_STE, DUT_SID, 1, 0);
    cmd_submit(e, CMD_TLBI_NSNH_ALL, 0, 0, 0);
    g_assert(consumed(e, submit_sync(e)));
}

/* ---- The event queue ---- */

/*
 * Consume the event queue; true if it had an event of @type for @sid.
 * Other events are allowed (the spec may record more than one).
 */
static bool event_seen(Env *e, uint32_t type, uint32_t sid)
{
    uint32_t prod = smmu_read(e, SMMU_EVENTQ_PROD) & QMASK(EVTQ_LOG2);
    bool seen = false;

    while (e->evt_cons != prod) {
        uint64_t ev = EVTQ + 32 * (e->evt_cons & ((1u << EVTQ_LOG2) - 1));

        if ((qtest_readl(e->qts, ev) & 0xff) == type &&
            qtest_readl(e->qts, ev + 4) == sid) {
            seen = true;
        }
        e->evt_cons = (e->evt_cons + 1) & QMASK(EVTQ_LOG2);
    }
    smmu_write(e, SMMU_EVENTQ_CONS, e->evt_cons);
    return seen;
}

/* ---- Set-up: what firmware and the guest's drivers would have done ---- */

static void cr0_write(Env *e, uint32_t val)
{
    smmu_write(e, SMMU_CR0, val);
    g_assert_cmphex(smmu_read(e, SMMU_CR0ACK), ==, val);
}

/*
 * Queues, stream table, then enable: EVENTQEN, CMDQEN, then SMMUEN with
 * ATSCHK (ATS translated requests are checked against STE.EATS)
 */
static void smmu_setup(Env *e, unsigned eats)
{
    tables_setup(e);
    ste_write(e, eats);
    e->prod = 0;
    e->evt_cons = 0;
    qtest_writeq(e->qts, e->smmu + SMMU_STRTAB_BASE, STRTAB);
    smmu_write(e, SMMU_STRTAB_BASE_CFG, STRTAB_LOG2);
    qtest_writeq(e->qts, e->smmu + SMMU_CMDQ_BASE, CMDQ | CMDQ_LOG2);
    smmu_write(e, SMMU_CMDQ_PROD, 0);
    smmu_write(e, SMMU_CMDQ_CONS, 0);
    qtest_writeq(e->qts, e->smmu + SMMU_EVENTQ_BASE, EVTQ | EVTQ_LOG2);
    smmu_write(e, SMMU_EVENTQ_PROD, 0);
    smmu_write(e, SMMU_EVENTQ_CONS, 0);
    cr0_write(e, CR0_CMDQEN | CR0_EVENTQEN);
    cmd_submit(e, CMD_CFGI_STE_RANGE, 0, 31, 0);
    cmd_submit(e, CMD_TLBI_NSNH_ALL, 0, 0, 0);
    g_assert(consumed(e, submit_sync(e)));
    cr0_write(e, CR0_ON);
}

/* The root port's bus number, memory window and decoding */
static void rp_setup(QPCIDevice *rp, uint8_t sec, uint32_t base,
                     uint32_t limit)
{
    qpci_config_writeb(rp, PCI_PRIMARY_BUS, 0);
    qpci_config_writeb(rp, PCI_SECONDARY_BUS, sec);
    qpci_config_writeb(rp, PCI_SUBORDINATE_BUS, sec);
    qpci_config_writew(rp, PCI_MEMORY_BASE, (base >> 16) & 0xfff0);
    qpci_config_writew(rp, PCI_MEMORY_LIMIT, (limit >> 16) & 0xfff0);
    qpci_config_writew(rp, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/* What enumeration does for the endpoint: BAR0, decoding, bus master */
static void dev_setup(QPCIDevice *dev, uint32_t bar0)
{
    qpci_config_writel(dev, PCI_BASE_ADDRESS_0, bar0);
    qpci_config_writew(dev, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/*
 * Start QEMU: virt, rp1 with the endpoint (id dut), rp2 empty; @smmu:
 * NULL for no vIOMMU, else arm-smmuv3's extra properties; @extra: more
 * command line; @incoming: NULL, or where to receive a migration (then
 * env_attach() once it has arrived).
 */
static Env *env_launch(const char *smmu, const char *extra,
                       const char *incoming)
{
    Env *e = g_new0(Env, 1);
    g_autofree char *smmu_arg =
        smmu ? g_strdup_printf("-device arm-smmuv3,id=iommu,"
                               "primary-bus=pcie.0%s", smmu)
             : g_strdup("");
    g_autofree char *inc =
        incoming ? g_strdup_printf("-incoming %s", incoming) : g_strdup("");

    e->smmu = SMMU_BASE;
    e->qts = qtest_initf("-M virt,gic-version=3 -cpu max -nodefaults %s "
                         "-device pcie-root-port,id=rp1,bus=pcie.0,"
                         "chassis=1,slot=1,addr=0x1 "
                         "-device ats-testdev,id=dut,bus=rp1 "
                         "-device pcie-root-port,id=rp2,bus=pcie.0,"
                         "chassis=2,slot=2,addr=0x2 %s %s",
                         smmu_arg, extra ? extra : "", inc);
    return e;
}

/* The test's view of the machine: the buses and the endpoint's BAR0 */
static void env_attach(Env *e)
{
    qpci_init_generic(&e->gbus, e->qts, NULL, true);
    e->rp = qpci_device_find(&e->gbus.bus, RP_DEVFN);
    g_assert(e->rp);
    /* the endpoint, even when it cannot be reached */
    e->dev = g_new0(QPCIDevice, 1);
    e->dev->bus = &e->gbus.bus;
    e->dev->devfn = DUT_DEVFN;
    e->bar.addr = DUT_BAR0;
    e->bar.is_io = false;
}

/* Everything the guest sets up, after start and after a reset */
static void env_setup(Env *e, bool smmu, unsigned eats)
{
    rp_setup(e->rp, SEC_BUS, WINDOW_BASE, WINDOW_LIMIT);
    dev_setup(e->dev, DUT_BAR0);
    g_assert_cmphex(atd_readl(e->dev, e->bar, ATD_REG_MAGIC),
                    ==, ATS_TESTDEV_MAGIC);
    if (smmu) {
        smmu_setup(e, eats);
    }
}

static Env *env_start_opts(const char *smmu, const char *extra,
                           unsigned eats)
{
    Env *e = env_launch(smmu, extra, NULL);

    env_attach(e);
    env_setup(e, smmu != NULL, eats);
    return e;
}

/* The SMMU with ats=on; the endpoint's STE with EATS as given */
static Env *env_start(unsigned eats)
{
    return env_start_opts(",ats=on", NULL, eats);
}

static void env_stop(Env *e)
{
    g_free(e->dev);
    g_free(e->rp);
    qtest_quit(e->qts);
    trace_log_remove(e->trace_log);
    g_free(e);
}

/* Fill the ATC with the first two mapped pages (Translation Requests) */
static void fill_two(Env *e)
{
    set_ats(e, true);
    atd_fill_two(e->dev, e->bar, IOVA_BASE);
}

/* ---- IDR0.ATS and the properties ---- */

static uint32_t idr0_of(const char *args, uint64_t base)
{
    QTestState *qts = qtest_initf("-M virt -cpu max -nodefaults %s", args);
    uint32_t idr0 = qtest_readl(qts, base + SMMU_IDR0);

    qtest_quit(qts);
    return idr0;
}

/* IDR0.ATS is set with ats=on only; the machine's own SMMU too */
static void test_idr0_ats(void)
{
    g_assert_cmphex(idr0_of("-device arm-smmuv3,primary-bus=pcie.0",
                            SMMU_BASE) & IDR0_ATS, ==, 0);
    g_assert_cmphex(idr0_of("-device arm-smmuv3,primary-bus=pcie.0,ats=off",
                            SMMU_BASE) & IDR0_ATS, ==, 0);
    g_assert_cmphex(idr0_of("-device arm-smmuv3,primary-bus=pcie.0,ats=on",
                            SMMU_BASE) & IDR0_ATS, ==, IDR0_ATS);
    g_assert_cmphex(idr0_of("-M iommu=smmuv3 -global arm-smmuv3.ats=on",
                            SMMU_LEGACY_BASE) & IDR0_ATS, ==, IDR0_ATS);
    g_assert_cmphex(idr0_of("-M iommu=smmuv3", SMMU_LEGACY_BASE) & IDR0_ATS,
                    ==, 0);
}

/* QEMU with @dev must refuse to start; its error message */
static char *refused(const char *dev)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    const char *argv[] = { qemu, "-M", "virt", "-cpu", "max", "-accel",
                           "qtest", "-nodefaults", "-display", "none",
                           "-device", dev, NULL };
    char *err = NULL;
    int status;

    g_assert(qemu);
    g_assert(g_spawn_sync(NULL, (char **)argv, NULL,
                          G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                          &err, &status, NULL));
    g_assert(status != 0);
    return err;
}

/*
 * atc-inv-timeout-ms takes 1 to 60000: other values are refused at
 * realize, with the reason; so is a value of ats that is no boolean.
 */
static void test_bad_props(void)
{
    static const char *const bad[] = { "0", "60001" };
    static const char *const good[] = { "1", "60000" };
    g_autofree char *err = NULL;
    int i;

    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        g_autofree char *dev =
            g_strdup_printf("arm-smmuv3,primary-bus=pcie.0,ats=on,"
                            "atc-inv-timeout-ms=%s", bad[i]);
        g_autofree char *msg = refused(dev);

        if (!strstr(msg, "atc-inv-timeout-ms") || strstr(msg, "not found")) {
            g_test_message("%s: %s", dev, msg);
            g_assert_not_reached();
        }
    }
    for (i = 0; i < ARRAY_SIZE(good); i++) {
        QTestState *qts = qtest_initf("-M virt -cpu max -nodefaults "
                                      "-device arm-smmuv3,primary-bus=pcie.0,"
                                      "ats=on,atc-inv-timeout-ms=%s", good[i]);

        qtest_quit(qts);
    }
    err = refused("arm-smmuv3,primary-bus=pcie.0,ats=maybe");
    g_assert(strstr(err, "ats"));
}

/* ---- Translation Requests and translated requests ---- */

/*
 * STE.EATS = 0: the SMMU refuses the endpoint's Translation Request and
 * records F_BAD_ATS_TREQ for its StreamID; nothing is cached.
 */
static void test_treq_eats0(void)
{
    Env *e = env_start(0);

    set_ats(e, true);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE, 16),
                    ==, ATD_ST_TRANSLATION);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_REQS),
                     ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_UR), ==, 1);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 0);
    g_assert(event_seen(e, EVT_F_BAD_ATS_TREQ, DUT_SID));

    /* untranslated requests are not ATS: they go through stage 1 */
    set_ats(e, false);
    atd_writel(e->dev, e->bar, ATD_REG_PATTERN, 0xa5a5a5a5);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE, 0x2000),
                    ==, ATD_ST_OK);
    g_assert_cmphex(qtest_readl(e->qts, DATA_PHYS + 0x1ffc), ==, 0xa5a5a5a5);
    env_stop(e);
}

/*
 * STE.EATS = 1: the Translation Requests are answered with stage 1's
 * translation, cached in the ATC, and the translated requests reach
 * memory; no event.
 */
static void test_treq_eats1(void)
{
    Env *e = env_start(1);

    set_ats(e, true);
    atd_writel(e->dev, e->bar, ATD_REG_PATTERN, 0x5a5a5a5a);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE + 0x3000,
                            16), ==, ATD_ST_OK);
    g_assert_cmphex(qtest_readl(e->qts, DATA_PHYS + 0x3000), ==, 0x5a5a5a5a);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_REQS),
                     ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_UR), ==, 0);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 1);
    /* again: an ATC hit, no new request */
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE + 0x3000,
                            16), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_HITS), ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_REQS),
                     ==, 1);
    /* an unmapped IOVA: no translation (stage 1's fault), not cached */
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0,
                            IOVA_BASE + 0x100000, 16), ==, ATD_ST_TRANSLATION);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 1);
    g_assert(!event_seen(e, EVT_F_BAD_ATS_TREQ, DUT_SID));
    env_stop(e);
}

/*
 * ats=off is QEMU 10.2's SMMU, whatever the STE says: no ATS (the
 * endpoint's requests are translated through its IOMMU address space
 * and nothing is cached, since no invalidation would reach it), and
 * CMD_ATC_INV is ignored. With ats=on and the SMMU disabled, Translation
 * Requests are refused.
 */
static void test_treq_refused(void)
{
    Env *e = env_start_opts("", NULL, 1);

    set_ats(e, true);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE, 16),
                    ==, ATD_ST_OK);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 0);
    g_assert(consumed(e, atc_inv_sync(e, IOVA_BASE)));
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_RECEIVED), ==, 0);
    g_assert(!gerror_cmdq_active(e));
    env_stop(e);

    e = env_start(1);
    cr0_write(e, CR0_CMDQEN | CR0_EVENTQEN);
    set_ats(e, true);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, DATA_PHYS, 16),
                    ==, ATD_ST_TRANSLATION);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 0);
    /* enabled again, it answers */
    cr0_write(e, CR0_ON);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, IOVA_BASE, 16),
                    ==, ATD_ST_OK);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 1);
    env_stop(e);
}

/*
 * Translations cached while EATS was 1; the STE is changed to EATS = 0:
 * the endpoint's translated requests (ATC hits) are blocked and recorded
 * as F_TRANSL_FORBIDDEN; EATS = 1 again lets them through.
 */
static void test_translated_eats0(void)
{
    Env *e = env_start(1);

    qtest_memset(e->qts, DATA_PHYS, 0, 0x2000);
    fill_two(e);
    ste_update(e, 0);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE,
                            IOVA_BASE + 0x1000, 16), ==, ATD_ST_TRANSLATION);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_HITS), ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_TRANSLATION_UR), ==, 1);
    g_assert(event_seen(e, EVT_F_TRANSL_FORBIDDEN, DUT_SID));

    ste_update(e, 1);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE,
                            IOVA_BASE + 0x1000, 16), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_HITS), ==, 3);
    env_stop(e);
}

/* ---- CMD_ATC_INV and CMD_SYNC ---- */

/*
 * CMD_ATC_INV reaches the endpoint, which evicts the page and answers;
 * the CMD_SYNC behind it completes at once. A 2-page one evicts both.
 */
static void test_atc_inv(void)
{
    Env *e = env_start(1);

    qtest_memset(e->qts, DATA_PHYS, 0, 0x2000);
    fill_two(e);
    g_assert(consumed(e, atc_inv_sync(e, IOVA_BASE + 0x1000)));
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_RECEIVED), ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 1);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_EVICTIONS), ==, 1);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 1);

    fill_two(e);
    submit_atc_inv(e, DUT_SID, IOVA_BASE, 1);
    g_assert(consumed(e, submit_sync(e)));
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_RECEIVED), ==, 2);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 0);
    g_assert_cmphex(cmdq_err(e), ==, CERROR_NONE);
    g_assert(!gerror_cmdq_active(e));
    env_stop(e);
}

/*
 * A slow endpoint (answers 50 ms late): CONS stays at the CMD_SYNC, and
 * the commands behind it wait, until the answer; no error.
 */
static void test_sync_waits(void)
{
    Env *e = env_start(1);
    uint32_t sync, sync2;

    qtest_memset(e->qts, DATA_PHYS, 0, 0x2000);
    fill_two(e);
    atd_set_uint(e->qts, "dut", "inval-delay-ms", 50);
    sync = atc_inv_sync(e, IOVA_BASE);
    cmd_submit(e, CMD_TLBI_NSNH_ALL, 0, 0, 0);
    sync2 = submit_sync(e);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_RECEIVED), ==, 1);
    g_assert_cmpuint(cons_index(e), ==, sync);
    step_ms(e, 49);
    g_assert_cmpuint(cons_index(e), ==, sync);
    g_assert(!consumed(e, sync2));
    step_ms(e, 2);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 1);
    g_assert(consumed(e, sync));
    g_assert(consumed(e, sync2));
    g_assert_cmpuint(cons_index(e), ==, e->prod);
    g_assert_cmphex(cmdq_err(e), ==, CERROR_NONE);
    g_assert(!gerror_cmdq_active(e));
    env_stop(e);
}

/* How many @event lines of the trace @log name StreamID @sid (sid=...) */
static unsigned trace_count(const char *log, const char *event, uint32_t sid)
{
    g_autofree char *key = g_strdup_printf("%s sid=", event);
    const char *p = log;
    unsigned n = 0;

    while ((p = strstr(p, key))) {
        p += strlen(key);
        n += g_ascii_strtoull(p, NULL, 0) == sid;
    }
    return n;
}

/*
 * An endpoint that never answers (drop-inval): after atc-inv-timeout-ms
 * CMDQ_CONS.ERR is CERROR_ATC_INV_SYNC, GERROR.CMDQ_ERR is active and
 * CONS stays at the CMD_SYNC. The acknowledgement makes the SMMU execute
 * the CMD_SYNC again, which waits for the same invalidation again and
 * times out again. The trace names the StreamID.
 */
static void test_sync_timeout(void)
{
    g_autofree char *path = trace_log_new("smmuv3-ats-test-XXXXXX.log");
    g_autofree char *trace = NULL;
    g_autofree char *log = NULL;
    uint32_t sync;
    Env *e;

    trace = g_strdup_printf("-d trace:smmuv3_atc_inv_* -D %s", path);
    e = env_start_opts(",ats=on", trace, 1);
    e->trace_log = g_steal_pointer(&path);

    fill_two(e);
    atd_set_bool(e->qts, "dut", "drop-inval", true);
    sync = atc_inv_sync(e, IOVA_BASE);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_DROPPED), ==, 1);
    step_ms(e, TIMEOUT_MS - 1);
    g_assert_cmphex(cmdq_err(e), ==, CERROR_NONE);
    g_assert(!gerror_cmdq_active(e));
    g_assert_cmpuint(cons_index(e), ==, sync);
    step_ms(e, 2);
    g_assert_cmphex(cmdq_err(e), ==, CERROR_ATC_INV_SYNC);
    g_assert(gerror_cmdq_active(e));
    g_assert_cmpuint(cons_index(e), ==, sync);

    /* acknowledged: the CMD_SYNC waits again, and times out again */
    gerror_ack(e);
    g_assert(!gerror_cmdq_active(e));
    g_assert_cmpuint(cons_index(e), ==, sync);
    step_ms(e, TIMEOUT_MS - 1);
    g_assert(!gerror_cmdq_active(e));
    g_assert_cmpuint(cons_index(e), ==, sync);
    step_ms(e, 2);
    g_assert(gerror_cmdq_active(e));
    g_assert_cmphex(cmdq_err(e), ==, CERROR_ATC_INV_SYNC);
    g_assert_cmpuint(cons_index(e), ==, sync);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_RECEIVED), ==, 1);

    log = trace_log_read(e->trace_log);
    g_assert_cmpuint(trace_count(log, "smmuv3_atc_inv_submit", DUT_SID), ==,
                     1);
    g_assert_cmpuint(trace_count(log, "smmuv3_atc_inv_sync_timeout",
                                 DUT_SID), ==, 2);
    g_assert_cmpuint(trace_count(log, "smmuv3_atc_inv_complete", DUT_SID),
                     ==, 0);
    env_stop(e);
}

/*
 * The endpoint answers after the time-out (150 ms): the CMD_SYNC
 * executed again after the acknowledgement completes with the answer,
 * with no second error.
 */
static void test_sync_late(void)
{
    Env *e = env_start(1);
    uint32_t sync, gerror;

    atd_set_uint(e->qts, "dut", "inval-delay-ms", 150);
    sync = atc_inv_sync(e, IOVA_BASE);
    step_ms(e, TIMEOUT_MS + 1);
    g_assert_cmphex(cmdq_err(e), ==, CERROR_ATC_INV_SYNC);
    g_assert(gerror_cmdq_active(e));
    gerror_ack(e);
    gerror = smmu_read(e, SMMU_GERROR);
    step_ms(e, 40);
    g_assert_cmpuint(cons_index(e), ==, sync);
    step_ms(e, 10);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 1);
    g_assert(consumed(e, sync));
    g_assert(!gerror_cmdq_active(e));
    step_ms(e, 2 * TIMEOUT_MS);
    g_assert_cmphex(smmu_read(e, SMMU_GERROR), ==, gerror);
    g_assert(consumed(e, submit_sync(e)));
    env_stop(e);
}

/* atc-inv-timeout-ms sets the time-out */
static void test_sync_timeout_prop(void)
{
    Env *e = env_start_opts(",ats=on,atc-inv-timeout-ms=20", NULL, 1);

    atd_set_bool(e->qts, "dut", "drop-inval", true);
    atc_inv_sync(e, IOVA_BASE);
    step_ms(e, 19);
    g_assert(!gerror_cmdq_active(e));
    step_ms(e, 2);
    g_assert(gerror_cmdq_active(e));
    g_assert_cmphex(cmdq_err(e), ==, CERROR_ATC_INV_SYNC);
    env_stop(e);
}

/* ---- Malformed commands ---- */

typedef struct BadCmd {
    const char *what;
    uint32_t w[4];
} BadCmd;

/*
 * Each malformed command (a Reserved opcode, IHI 0070 4.1.3; CMD_ATC_INV
 * with Size > 52, ILLEGAL in the model as the spec permits) stops the
 * queue at it with CERROR_ILL and
 * GERROR.CMDQ_ERR; the guest replaces it with a CMD_SYNC (as Linux does)
 * and acknowledges, and the queue goes on. QEMU stays up.
 */
static void test_bad_cmd(void)
{
    Env *e = env_start(1);
    BadCmd bad[] = {
        { "unknown opcode", { 0x7f, 0, 0, 0 } },
        { "opcode 0", { 0, 0, 0, 0 } },
        { "CMD_ATC_INV with Size 53", { CMD_ATC_INV, DUT_SID, 53, 0 } },
    };
    int i;

    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        uint32_t idx, sync;

        g_test_message("%s", bad[i].what);
        idx = cmd_submit(e, bad[i].w[0], bad[i].w[1], bad[i].w[2],
                         bad[i].w[3]);
        sync = submit_sync(e);
        g_assert_cmphex(cmdq_err(e), ==, CERROR_ILL);
        g_assert(gerror_cmdq_active(e));
        g_assert_cmpuint(cons_index(e), ==, idx);
        g_assert(!consumed(e, sync));

        e->prod = idx;
        cmd_put(e, CMD_SYNC, 0, 0, 0);
        e->prod = (sync + 1) & QMASK(CMDQ_LOG2);
        gerror_ack(e);
        smmu_write(e, SMMU_CMDQ_PROD, e->prod);
        g_assert(consumed(e, sync));
        g_assert(!gerror_cmdq_active(e));
        qtest_qmp_assert_success(e->qts, "{'execute': 'query-status'}");
    }
    /* the queue works on */
    fill_two(e);
    g_assert(consumed(e, atc_inv_sync(e, IOVA_BASE)));
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_ATC_ENTRIES), ==, 1);
    env_stop(e);
}

/*
 * Out-of-range parameters are CONSTRAINED UNPREDICTABLE, no command error
 * (IHI 0070 4.1.7): a CMD_ATC_INV with a SubstreamID although
 * SMMU_IDR1.SSIDSIZE allows none, and one beyond SIDSIZE's StreamIDs, are
 * consumed; QEMU stays up.
 */
static void test_out_of_range(void)
{
    Env *e = env_start(1);
    uint32_t ssidsize = IDR1_SSIDSIZE(smmu_read(e, SMMU_IDR1));
    uint32_t idx;

    g_assert_cmpuint(ssidsize, <, 20);
    idx = cmd_submit(e, CMD_ATC_INV | CMD_SSV | CMD_SSID(1u << ssidsize),
                     DUT_SID, (uint32_t)IOVA_BASE, 0);
    g_assert(consumed(e, idx));
    idx = cmd_submit(e, CMD_ATC_INV, 1u << 16, (uint32_t)IOVA_BASE, 0);
    g_assert(consumed(e, idx));
    g_assert(!gerror_cmdq_active(e));
    g_assert_cmphex(cmdq_err(e), ==, CERROR_NONE);
    qtest_qmp_assert_success(e->qts, "{'execute': 'query-status'}");
    env_stop(e);
}

/* ---- Surprise removal, reset, CMDQEN, migration ---- */

/*
 * The endpoint would answer 50 ms after the request, but is pulled out
 * before: the answer never comes, and the CMD_SYNC times out; executed
 * again after the acknowledgement, it times out again.
 */
static void test_surprise_remove(void)
{
    Env *e = env_start(1);
    uint32_t sync;

    fill_two(e);
    atd_set_uint(e->qts, "dut", "inval-delay-ms", 50);
    sync = atc_inv_sync(e, IOVA_BASE);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_RECEIVED), ==, 1);
    qtest_qmp_assert_success(e->qts, "{'execute': 'x-pcie-surprise-remove',"
                             " 'arguments': {'id': 'dut'}}");
    g_assert_cmphex(atd_readl(e->dev, e->bar, ATD_REG_MAGIC), ==, 0xffffffff);
    step_ms(e, 60);
    g_assert_cmpuint(cons_index(e), ==, sync);
    g_assert(!gerror_cmdq_active(e));
    step_ms(e, TIMEOUT_MS - 60 + 1);
    g_assert_cmphex(cmdq_err(e), ==, CERROR_ATC_INV_SYNC);
    g_assert(gerror_cmdq_active(e));
    g_assert_cmpuint(cons_index(e), ==, sync);

    gerror_ack(e);
    step_ms(e, TIMEOUT_MS + 1);
    g_assert(gerror_cmdq_active(e));
    g_assert_cmpuint(cons_index(e), ==, sync);
    qtest_qmp_assert_success(e->qts, "{'execute': 'query-status'}");
    env_stop(e);
}

/*
 * A system reset forgets the outstanding invalidation: the SMMU comes
 * back with empty registers, and, set up again, nothing times out.
 */
static void test_reset(void)
{
    Env *e = env_start(1);
    uint32_t sync;

    atd_set_bool(e->qts, "dut", "drop-inval", true);
    sync = atc_inv_sync(e, IOVA_BASE);
    g_assert_cmpuint(cons_index(e), ==, sync);
    qtest_qmp_assert_success(e->qts, "{'execute': 'system_reset'}");
    qtest_qmp_eventwait(e->qts, "RESET");
    g_assert_cmphex(smmu_read(e, SMMU_CR0), ==, 0);
    g_assert_cmphex(smmu_read(e, SMMU_GERROR), ==, 0);
    g_assert_cmphex(smmu_read(e, SMMU_CMDQ_CONS), ==, 0);
    step_ms(e, 2 * TIMEOUT_MS);
    g_assert_cmphex(smmu_read(e, SMMU_GERROR), ==, 0);
    g_assert_cmphex(smmu_read(e, SMMU_CMDQ_CONS), ==, 0);

    env_setup(e, true, 1);
    g_assert(consumed(e, submit_sync(e)));
    step_ms(e, 2 * TIMEOUT_MS);
    g_assert(!gerror_cmdq_active(e));
    env_stop(e);
}

/*
 * Disabling the command queue forgets the outstanding invalidation: no
 * time-out afterwards, and a CMD_SYNC on the re-enabled queue completes.
 */
static void test_cmdq_disable(void)
{
    Env *e = env_start(1);
    uint32_t sync;

    atd_set_bool(e->qts, "dut", "drop-inval", true);
    sync = atc_inv_sync(e, IOVA_BASE);
    step_ms(e, 10);
    g_assert_cmpuint(cons_index(e), ==, sync);
    cr0_write(e, CR0_ON & ~CR0_CMDQEN);
    step_ms(e, 2 * TIMEOUT_MS);
    g_assert(!gerror_cmdq_active(e));
    g_assert_cmphex(cmdq_err(e), ==, CERROR_NONE);

    qtest_memset(e->qts, CMDQ, 0, 16 << CMDQ_LOG2);
    e->prod = 0;
    smmu_write(e, SMMU_CMDQ_PROD, 0);
    smmu_write(e, SMMU_CMDQ_CONS, 0);
    cr0_write(e, CR0_ON);
    g_assert(consumed(e, submit_sync(e)));
    step_ms(e, 2 * TIMEOUT_MS);
    g_assert(!gerror_cmdq_active(e));
    env_stop(e);
}

/* Migrate @src to a new QEMU started alike and stop it; the destination */
static Env *env_migrate(Env *src, const char *smmu)
{
    g_autofree char *sock = g_strdup_printf("%s/smmuv3-ats-test-%d.sock",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Env *d = env_launch(smmu, NULL, uri);

    migrate_and_wait(src->qts, d->qts, uri);
    unlink(sock);
    env_attach(d);
    d->prod = src->prod;
    d->evt_cons = src->evt_cons;
    env_stop(src);
    return d;
}

/*
 * Migration while a CMD_SYNC waits for a slow endpoint's answer: on the
 * destination it still waits, and completes when the answer comes, on
 * time, with no error.
 */
static void test_migrate_slow(void)
{
    Env *e = env_start(1);
    uint32_t sync;

    fill_two(e);
    atd_set_uint(e->qts, "dut", "inval-delay-ms", 50);
    sync = atc_inv_sync(e, IOVA_BASE);
    g_assert_cmpuint(cons_index(e), ==, sync);

    e = env_migrate(e, ",ats=on");
    g_assert_cmpuint(cons_index(e), ==, sync);
    step_ms(e, 49);
    g_assert_cmpuint(cons_index(e), ==, sync);
    step_ms(e, 2);
    g_assert(consumed(e, sync));
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_INVAL_COMPLETED), ==, 1);
    step_ms(e, 2 * TIMEOUT_MS);
    g_assert(!gerror_cmdq_active(e));
    /* the ATC came along: page 1 is a hit */
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, IOVA_BASE + 0x1000,
                            IOVA_BASE + 0x1000, 16), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_ATC_HITS), ==, 2);
    env_stop(e);
}

/* ... and while it waits for a hung one's: it times out on the destination */
static void test_migrate_hung(void)
{
    Env *e = env_start(1);
    uint32_t sync;

    atd_set_bool(e->qts, "dut", "drop-inval", true);
    sync = atc_inv_sync(e, IOVA_BASE);

    e = env_migrate(e, ",ats=on");
    g_assert_cmpuint(cons_index(e), ==, sync);
    step_ms(e, TIMEOUT_MS - 1);
    g_assert(!gerror_cmdq_active(e));
    step_ms(e, 2);
    g_assert(gerror_cmdq_active(e));
    g_assert_cmphex(cmdq_err(e), ==, CERROR_ATC_INV_SYNC);
    g_assert_cmpuint(cons_index(e), ==, sync);
    env_stop(e);
}

/* ---- ats-testdev on virt ---- */

/*
 * With no vIOMMU: config space (the ATS capability in extended config
 * space, through ECAM), the registers, and DMA to guest RAM.
 */
static void test_virt_no_iommu(void)
{
    Env *e = env_start_opts(NULL, NULL, 0);

    g_assert_cmphex(qpci_config_readw(e->dev, PCI_VENDOR_ID), ==,
                    ATS_TESTDEV_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(e->dev, PCI_DEVICE_ID), ==,
                    ATS_TESTDEV_DEVICE_ID);
    g_assert_cmphex(qtest_readl(e->qts,
                                ecam(DUT_DEVFN, ATS_TESTDEV_ATS_OFFSET)) &
                    0xfffff, ==, 0x1000f);
    g_assert_cmpuint(atd_readl(e->dev, e->bar, ATD_REG_VERSION),
                     ==, ATS_TESTDEV_REVISION);
    g_assert_cmphex(atd_readl(e->dev, e->bar, ATD_REG_STATUS), ==, ATD_ST_IDLE);

    atd_writel(e->dev, e->bar, ATD_REG_PATTERN, 0x12345678);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_FILL, 0, DATA_PHYS, 0x2000),
                    ==, ATD_ST_OK);
    g_assert_cmphex(qtest_readl(e->qts, DATA_PHYS + 0x1ffc), ==, 0x12345678);
    g_assert_cmphex(atd_run(e->dev, e->bar, ATD_CMD_COMPARE, DATA_PHYS,
                            DATA_PHYS, 0x100), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_stat(e->dev, e->bar, ATD_STAT_UNTRANSLATED), ==, 4);
    g_assert_cmphex(atd_run(e->dev, e->bar, 99, 0, 0, 16), ==, ATD_ST_BAD_CMD);
    env_stop(e);
}

/* The guest's answer to an attention button: power the slot off */
static void slot_unplug(Env *e, QPCIDevice *rp, const char *id)
{
    uint8_t exp = qpci_find_capability(rp, PCI_CAP_ID_EXP, 0);
    uint16_t sta;

    g_assert(exp);
    qtest_qmp_device_del_send(e->qts, id);
    sta = qpci_config_readw(rp, exp + PCI_EXP_SLTSTA);
    g_assert_cmphex(sta & PCI_EXP_SLTSTA_ABP, ==, PCI_EXP_SLTSTA_ABP);
    qpci_config_writew(rp, exp + PCI_EXP_SLTSTA, sta);
    qpci_config_writew(rp, exp + PCI_EXP_SLTCTL,
                       PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PWR_IND_OFF |
                       PCI_EXP_SLTCTL_ATTN_IND_OFF);
    wait_device_deleted(e->qts, id);
}

/* A card hot-plugged into @rp: the guest acknowledges and powers it on */
static void slot_plug(Env *e, QPCIDevice *rp, const char *id)
{
    uint8_t exp = qpci_find_capability(rp, PCI_CAP_ID_EXP, 0);

    g_assert(exp);
    qtest_qmp_device_add(e->qts, "ats-testdev", id, "{'bus': 'rp2'}");
    g_assert_cmphex(qpci_config_readw(rp, exp + PCI_EXP_SLTSTA) &
                    PCI_EXP_SLTSTA_PDS, ==, PCI_EXP_SLTSTA_PDS);
    qpci_config_writew(rp, exp + PCI_EXP_SLTSTA,
                       qpci_config_readw(rp, exp + PCI_EXP_SLTSTA));
    qpci_config_writew(rp, exp + PCI_EXP_SLTCTL,
                       PCI_EXP_SLTCTL_PWR_ON | PCI_EXP_SLTCTL_PWR_IND_ON |
                       PCI_EXP_SLTCTL_ATTN_IND_OFF);
}

/*
 * Native PCIe hot-plug on virt: an endpoint hot-plugged into rp2's slot
 * works, device_del presses the attention button and the guest's
 * power-off unplugs it; then the cold-plugged one goes the same way.
 * With the SMMU, the hot-plugged endpoint's translations are cached and
 * invalidated, and an invalidation for a StreamID whose endpoint is gone
 * leaves QEMU up.
 */
static void do_hotplug(bool smmu)
{
    Env *e = env_start_opts(smmu ? ",ats=on" : NULL, NULL, 1);
    QPCIDevice *rp2 = qpci_device_find(&e->gbus.bus, RP2_DEVFN);
    QPCIDevice hot = { .bus = &e->gbus.bus, .devfn = HOT_DEVFN };
    QTestState *qts = e->qts;

    g_assert(rp2);
    rp_setup(rp2, HOT_BUS, WINDOW2_BASE, WINDOW2_LIMIT);
    slot_plug(e, rp2, "hot");
    g_assert_cmphex(qpci_config_readw(&hot, PCI_VENDOR_ID), ==,
                    ATS_TESTDEV_VENDOR_ID);
    dev_setup(&hot, WINDOW2_BASE);
    g_assert_cmphex(qtest_readl(qts, WINDOW2_BASE + ATD_REG_MAGIC), ==,
                    ATS_TESTDEV_MAGIC);

    qtest_writel(qts, WINDOW2_BASE + ATD_REG_PATTERN, 0x77777777);
    qtest_writeq(qts, WINDOW2_BASE + ATD_REG_DST,
                 smmu ? IOVA_BASE + 0x5000 : DATA_PHYS + 0x5000);
    qtest_writel(qts, WINDOW2_BASE + ATD_REG_LEN, 16);
    if (smmu) {
        ste_write_sid(e, HOT_SID, 1);
        cmd_submit(e, CMD_CFGI_STE, HOT_SID, 1, 0);
        g_assert(consumed(e, submit_sync(e)));
        atd_set_ats(qts, ecam(HOT_DEVFN, 0), true);
    }
    qtest_writel(qts, WINDOW2_BASE + ATD_REG_CMD, ATD_CMD_FILL);
    g_assert_cmphex(qtest_readl(qts, WINDOW2_BASE + ATD_REG_STATUS), ==,
                    ATD_ST_OK);
    g_assert_cmphex(qtest_readl(qts, DATA_PHYS + 0x5000), ==, 0x77777777);
    if (smmu) {
        g_assert_cmpuint(qtest_readl(qts, WINDOW2_BASE + ATD_REG_ATC_ENTRIES),
                         ==, 1);
        submit_atc_inv(e, HOT_SID, IOVA_BASE + 0x5000, 0);
        g_assert(consumed(e, submit_sync(e)));
        g_assert_cmpuint(qtest_readl(qts, WINDOW2_BASE + ATD_REG_ATC_ENTRIES),
                         ==, 0);
        fill_two(e);
    }

    slot_unplug(e, rp2, "hot");
    g_assert_cmphex(qpci_config_readw(&hot, PCI_VENDOR_ID), ==, 0xffff);
    slot_unplug(e, e->rp, "dut");
    g_assert_cmphex(qpci_config_readw(e->dev, PCI_VENDOR_ID), ==, 0xffff);

    /* and back: a new card in rp2 */
    slot_plug(e, rp2, "hot2");
    g_assert_cmphex(qpci_config_readw(&hot, PCI_VENDOR_ID), ==,
                    ATS_TESTDEV_VENDOR_ID);

    if (smmu) {
        atc_inv_sync(e, IOVA_BASE);
        step_ms(e, 2 * TIMEOUT_MS);
    }
    qtest_qmp_assert_success(qts, "{'execute': 'query-status'}");
    g_free(rp2);
    env_stop(e);
}

static void test_virt_hotplug(void)
{
    do_hotplug(false);
}

static void test_smmu_hotplug(void)
{
    do_hotplug(true);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/smmuv3-ats/idr0-ats", test_idr0_ats);
    qtest_add_func("/smmuv3-ats/bad-props", test_bad_props);
    qtest_add_func("/smmuv3-ats/treq/eats0", test_treq_eats0);
    qtest_add_func("/smmuv3-ats/treq/eats1", test_treq_eats1);
    qtest_add_func("/smmuv3-ats/treq/refused", test_treq_refused);
    qtest_add_func("/smmuv3-ats/translated/eats0", test_translated_eats0);
    qtest_add_func("/smmuv3-ats/atc-inv", test_atc_inv);
    qtest_add_func("/smmuv3-ats/sync/waits", test_sync_waits);
    qtest_add_func("/smmuv3-ats/sync/timeout", test_sync_timeout);
    qtest_add_func("/smmuv3-ats/sync/late", test_sync_late);
    qtest_add_func("/smmuv3-ats/sync/timeout-prop", test_sync_timeout_prop);
    qtest_add_func("/smmuv3-ats/bad-cmd", test_bad_cmd);
    qtest_add_func("/smmuv3-ats/out-of-range", test_out_of_range);
    qtest_add_func("/smmuv3-ats/surprise-remove", test_surprise_remove);
    qtest_add_func("/smmuv3-ats/reset", test_reset);
    qtest_add_func("/smmuv3-ats/cmdq-disable", test_cmdq_disable);
    qtest_add_func("/smmuv3-ats/migrate/slow", test_migrate_slow);
    qtest_add_func("/smmuv3-ats/migrate/hung", test_migrate_hung);
    qtest_add_func("/smmuv3-ats/virt/no-iommu", test_virt_no_iommu);
    qtest_add_func("/smmuv3-ats/virt/hotplug", test_virt_hotplug);
    qtest_add_func("/smmuv3-ats/hotplug", test_smmu_hotplug);
    return g_test_run();
}
