/*
 * QTest for intel-iommu's invalidation queue (no guest), with two ATS test
 * endpoints as the devices whose device-TLBs it invalidates.
 *
 * Every test runs twice: in legacy mode (128-bit descriptors) and in
 * scalable mode (x-scalable-mode=on; the queue then has 256-bit
 * descriptors, IQA.DW set). The test turns on queued invalidation only:
 * device-TLB invalidations go to a device by source-id, with or without
 * translation enabled.
 *
 * What it checks: fetching past pending Invalidation Wait descriptors
 * (iq-fetch-depth, the Fence flag), the Invalidation Time-out Error
 * (ITE) aborting exactly the waits pending then while other devices'
 * requests stay outstanding, IQERCD (ITESID, ICESID, IQEI), per-function
 * ITags, PASID-based device-TLB invalidations, reset and bad properties.
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
#include "hw/misc/ats-testdev.h"
#include "ats-testdev-qtest.h"

#define IOMMU_BASE      0xfed90000ULL
#define INV_QUEUE       0x106000ULL     /* 4 KiB: QS=0 */
#define WAIT_STATUS     0x108000ULL     /* one status word per wait */
#define IOVA            0x40000000ULL
#define TIMEOUT_MS      100             /* devtlb-timeout-ms default */
#define NR_DEVS         2

/* dev0 at 00:04.0, dev1 at 00:05.0: source-id = devfn on bus 0 */
static const uint8_t dev_devfn[NR_DEVS] = { QPCI_DEVFN(4, 0),
                                            QPCI_DEVFN(5, 0) };
#define SID(n)          ((uint16_t)dev_devfn[n])

typedef struct Env {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev[NR_DEVS];
    QPCIBar bar[NR_DEVS];
    bool sm;                    /* scalable mode, 256-bit descriptors */
    uint32_t tail;              /* in descriptors */
    uint32_t size;              /* descriptors in the queue */
    uint32_t waits;             /* status words handed out */
    char *trace_log;
} Env;

typedef struct Case {
    void (*fn)(Env *e);
    const char *opts;           /* extra intel-iommu properties */
    const char *machine;        /* -M, q35 (the latest) if NULL */
    bool sm;
    bool trace;                 /* log vtd_devtlb_inv_submit */
} Case;

static uint32_t desc_size(Env *e)
{
    return e->sm ? 32 : 16;
}

static uint64_t iqh(Env *e)
{
    return qtest_readq(e->qts, IOMMU_BASE + DMAR_IQH_REG);
}

/* IQH/IQT value of descriptor index @i */
static uint64_t qptr(Env *e, uint32_t i)
{
    return (uint64_t)i << (e->sm ? 5 : 4);
}

static uint32_t fsts(Env *e)
{
    return qtest_readl(e->qts, IOMMU_BASE + DMAR_FSTS_REG);
}

static uint64_t iqer(Env *e)
{
    return qtest_readq(e->qts, IOMMU_BASE + DMAR_IQER_REG);
}

static void clear_fsts(Env *e, uint32_t bits)
{
    qtest_writel(e->qts, IOMMU_BASE + DMAR_FSTS_REG, bits);
}

static void step_ms(Env *e, unsigned ms)
{
    qtest_clock_step(e->qts, ms * 1000 * 1000LL);
}

static uint64_t dev_stat(Env *e, int n, unsigned idx)
{
    return atd_stat(e->dev[n], e->bar[n], idx);
}

static uint64_t received(Env *e, int n)
{
    return dev_stat(e, n, ATD_STAT_INVAL_RECEIVED);
}

/* dev0 and dev1 are the ids of the endpoints */
static void knob_bool(Env *e, int n, const char *prop, bool val)
{
    g_autofree char *id = g_strdup_printf("dev%d", n);

    atd_set_bool(e->qts, id, prop, val);
}

static void knob_uint(Env *e, int n, const char *prop, unsigned val)
{
    g_autofree char *id = g_strdup_printf("dev%d", n);

    atd_set_uint(e->qts, id, prop, val);
}

/* Write descriptor @lo/@hi at index @i (upper half zero in 256-bit ones). */
static void put_desc(Env *e, uint32_t i, uint64_t lo, uint64_t hi)
{
    uint64_t addr = INV_QUEUE + (uint64_t)i * desc_size(e);

    qtest_writeq(e->qts, addr, lo);
    qtest_writeq(e->qts, addr + 8, hi);
    if (e->sm) {
        qtest_writeq(e->qts, addr + 16, 0);
        qtest_writeq(e->qts, addr + 24, 0);
    }
}

/* Queue a descriptor without telling the IOMMU; returns its index. */
static uint32_t queue_desc(Env *e, uint64_t lo, uint64_t hi)
{
    uint32_t i = e->tail;

    put_desc(e, i, lo, hi);
    e->tail = (e->tail + 1) % e->size;
    return i;
}

static void kick(Env *e)
{
    qtest_writeq(e->qts, IOMMU_BASE + DMAR_IQT_REG, qptr(e, e->tail));
}

/* Queue a descriptor and move IQT past it, as one CPU does. */
static uint32_t submit(Env *e, uint64_t lo, uint64_t hi)
{
    uint32_t i = queue_desc(e, lo, hi);

    kick(e);
    return i;
}

static void submit_devtlb(Env *e, int n)
{
    submit(e, VTD_INV_DESC_DEVICE | ((uint64_t)SID(n) << 32), IOVA);
}

/* Another CPU's IOTLB flush: completes at once */
static void submit_iotlb(Env *e)
{
    submit(e, VTD_INV_DESC_IOTLB | VTD_INV_DESC_IOTLB_GLOBAL, 0);
}

/* A wait with status write (and @flags): returns its status word's number */
static uint32_t queue_wait(Env *e, uint64_t flags)
{
    uint32_t w = e->waits++;

    qtest_writel(e->qts, WAIT_STATUS + 4 * w, 0);
    queue_desc(e, VTD_INV_DESC_WAIT | VTD_INV_DESC_WAIT_SW | flags |
                  ((uint64_t)(0x100 + w) << VTD_INV_DESC_WAIT_DATA_SHIFT),
               WAIT_STATUS + 4 * w);
    return w;
}

static uint32_t submit_wait(Env *e, uint64_t flags)
{
    uint32_t w = queue_wait(e, flags);

    kick(e);
    return w;
}

static bool wait_done(Env *e, uint32_t w)
{
    return qtest_readl(e->qts, WAIT_STATUS + 4 * w) == 0x100 + w;
}

static void vtd_write_gcmd(Env *e, uint32_t cmd, uint32_t sts)
{
    qtest_writel(e->qts, IOMMU_BASE + DMAR_GCMD_REG, cmd);
    g_assert_cmphex(qtest_readl(e->qts, IOMMU_BASE + DMAR_GSTS_REG) & sts,
                    ==, sts);
}

/*
 * Start QEMU. @incoming: NULL, or where to receive a migration; then the
 * guest is not touched: env_attach() once it has arrived.
 */
static Env *env_launch(const Case *c, const char *incoming)
{
    Env *e = g_new0(Env, 1);
    g_autofree char *trace = NULL;
    g_autofree char *inc =
        incoming ? g_strdup_printf("-incoming %s", incoming) : NULL;

    e->sm = c->sm;
    if (c->trace) {
        e->trace_log = trace_log_new("vtd-iq-test-XXXXXX.log");
        trace = g_strdup_printf("-d trace:vtd_devtlb_inv_submit -D %s",
                                e->trace_log);
    }
    e->qts = qtest_initf("-M %s -device intel-iommu,device-iotlb=on%s%s "
                         "-device ats-testdev,id=dev0,addr=0x4 "
                         "-device ats-testdev,id=dev1,addr=0x5 %s %s",
                         c->machine ? c->machine : "q35",
                         e->sm ? ",x-scalable-mode=on" : "",
                         c->opts ? c->opts : "", trace ? trace : "",
                         inc ? inc : "");
    e->size = e->sm ? 128 : 256;
    return e;
}

/* The test's view of the endpoints (BARs mapped, bus mastering on) */
static void env_attach(Env *e)
{
    int i;

    e->bus = qpci_new_pc(e->qts, NULL);
    for (i = 0; i < NR_DEVS; i++) {
        e->dev[i] = qpci_device_find(e->bus, dev_devfn[i]);
        g_assert(e->dev[i]);
        qpci_device_enable(e->dev[i]);
        e->bar[i] = qpci_iomap(e->dev[i], 0, NULL);
    }
}

static Env *env_start(const Case *c)
{
    Env *e = env_launch(c, NULL);

    env_attach(e);
    /* A 4 KiB queue: 256 descriptors of 128 bits, or 128 of 256 */
    qtest_memset(e->qts, INV_QUEUE, 0, 0x1000);
    qtest_writeq(e->qts, IOMMU_BASE + DMAR_IQA_REG,
                 INV_QUEUE | (e->sm ? VTD_IQA_DW_MASK : 0));
    vtd_write_gcmd(e, VTD_GCMD_QIE, VTD_GSTS_QIES);
    return e;
}

static void env_stop(Env *e)
{
    int i;

    for (i = 0; i < NR_DEVS; i++) {
        g_free(e->dev[i]);
    }
    qpci_free_pc(e->bus);
    qtest_quit(e->qts);
    trace_log_remove(e->trace_log);
    g_free(e);
}

/*
 * Two CPUs' submissions behind a slow device: device 0 answers 50 ms late,
 * its invalidation and wait *@w0 first, then another CPU's IOTLB flush,
 * device 1's invalidation and wait *@w1.
 */
static void submit_behind_slow(Env *e, uint32_t *w0, uint32_t *w1)
{
    knob_uint(e, 0, "inval-delay-ms", 50);
    submit_devtlb(e, 0);
    *w0 = submit_wait(e, 0);
    submit_iotlb(e);
    submit_devtlb(e, 1);
    *w1 = submit_wait(e, 0);
}

/*
 * Fetching stopped after the first wait (IQH past it, device 1 not asked
 * yet); once device 0 answers, both waits complete and the rest is fetched.
 */
static void assert_stopped_after_first_wait(Env *e, uint32_t w0, uint32_t w1)
{
    g_assert_cmpuint(iqh(e), ==, qptr(e, 2));
    g_assert_cmpuint(received(e, 1), ==, 0);
    step_ms(e, 51);
    g_assert(wait_done(e, w0) && wait_done(e, w1));
    g_assert_cmpuint(received(e, 1), ==, 1);
    g_assert_cmpuint(iqh(e), ==, qptr(e, e->tail));
}

/*
 * A slow device's invalidation before a wait: the wait becomes pending and
 * fetching goes on past it (another CPU's IOTLB flush, the other device's
 * invalidation, a second wait). Both waits complete when the slow device
 * has answered. With iq-fetch-depth=1 fetching stops after the first.
 */
static void test_fetch_ahead(Env *e)
{
    uint32_t w0, w1;

    submit_behind_slow(e, &w0, &w1);

    g_assert_cmpuint(iqh(e), ==, qptr(e, e->tail));
    g_assert_cmpuint(received(e, 1), ==, 1);
    g_assert(!wait_done(e, w0) && !wait_done(e, w1));
    step_ms(e, 49);
    g_assert(!wait_done(e, w0) && !wait_done(e, w1));
    step_ms(e, 2);
    g_assert(wait_done(e, w0) && wait_done(e, w1));
    g_assert_cmphex(fsts(e), ==, 0);
}

static void test_fetch_depth1(Env *e)
{
    uint32_t w0, w1;

    submit_behind_slow(e, &w0, &w1);

    assert_stopped_after_first_wait(e, w0, w1);
    g_assert_cmphex(fsts(e), ==, 0);
}

/*
 * At most iq-fetch-depth waits pending: the next one is fetched when the
 * oldest completes.
 */
static void test_fetch_depth_limit(Env *e)
{
    uint32_t w[5];
    int i;

    knob_uint(e, 0, "inval-delay-ms", 50);
    submit_devtlb(e, 0);
    for (i = 0; i < 5; i++) {
        w[i] = submit_wait(e, 0);
    }
    /* four pending, the fifth not fetched */
    g_assert_cmpuint(iqh(e), ==, qptr(e, 5));
    step_ms(e, 51);
    for (i = 0; i < 5; i++) {
        g_assert(wait_done(e, w[i]));
    }
    g_assert_cmpuint(iqh(e), ==, qptr(e, e->tail));
}

/* A pending wait with the Fence flag stops fetching until it completes. */
static void test_fence(Env *e)
{
    uint32_t w0, w1;

    knob_uint(e, 0, "inval-delay-ms", 50);
    submit_devtlb(e, 0);
    w0 = submit_wait(e, VTD_INV_DESC_WAIT_FN);
    submit_devtlb(e, 1);
    w1 = submit_wait(e, 0);

    assert_stopped_after_first_wait(e, w0, w1);
}

/*
 * Two CPUs each invalidate a device and wait: dev0 never answers, dev1
 * (asked 50 ms later) answers 80 ms after its request, after dev0's
 * time-out but before its own deadline. The ITE aborts both pending waits
 * (no status write), IQH stays past them, and nothing is fetched until ITE
 * is clear; a wait fetched after that is not aborted.
 */
static void test_ite_aborts_pending(Env *e)
{
    uint32_t w0, w1, w2;

    knob_bool(e, 0, "drop-inval", true);
    knob_uint(e, 1, "inval-delay-ms", 80);
    submit_devtlb(e, 0);
    w0 = submit_wait(e, 0);
    step_ms(e, 50);
    submit_devtlb(e, 1);
    w1 = submit_wait(e, 0);
    g_assert_cmpuint(iqh(e), ==, qptr(e, 4));

    step_ms(e, TIMEOUT_MS - 50 + 1);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ITESID_MASK, ==,
                    VTD_IQER_ITESID(SID(0)));
    g_assert_cmpuint(iqh(e), ==, qptr(e, 4));
    g_assert(!wait_done(e, w0) && !wait_done(e, w1));

    /* halted: not fetched until ITE is clear */
    w2 = submit_wait(e, 0);
    g_assert_cmpuint(iqh(e), ==, qptr(e, 4));
    clear_fsts(e, VTD_FSTS_ITE);
    g_assert_cmpuint(iqh(e), ==, qptr(e, 5));
    /* pending behind dev1's request, which is still outstanding */
    g_assert(!wait_done(e, w2));
    step_ms(e, 30);
    g_assert(wait_done(e, w2));
    /* the aborted waits stay aborted */
    g_assert(!wait_done(e, w0) && !wait_done(e, w1));
    g_assert_cmphex(fsts(e), ==, 0);
}

/*
 * A healthy slow device's request outlives another device's ITE: it keeps
 * its own deadline and its answer is a normal completion, no ICE.
 */
static void test_healthy_no_ice(Env *e)
{
    uint32_t w;

    knob_bool(e, 0, "drop-inval", true);
    submit_devtlb(e, 0);
    step_ms(e, 60);
    knob_uint(e, 1, "inval-delay-ms", 80);
    submit_devtlb(e, 1);
    submit_wait(e, 0);
    step_ms(e, TIMEOUT_MS - 60 + 1);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    clear_fsts(e, VTD_FSTS_ITE);
    w = submit_wait(e, 0);
    g_assert(!wait_done(e, w));
    /* dev1 answers 80 ms after its request, before its own deadline */
    step_ms(e, 40);
    g_assert(wait_done(e, w));
    g_assert_cmpuint(dev_stat(e, 1, ATD_STAT_INVAL_COMPLETED), ==, 1);
    g_assert_cmphex(fsts(e), ==, 0);
}

/*
 * A time-out while ITE is set retires the request and keeps ITESID: it
 * names the first device that timed out.
 */
static void test_timeout_while_ite(Env *e)
{
    uint32_t w;

    knob_bool(e, 0, "drop-inval", true);
    knob_bool(e, 1, "drop-inval", true);
    submit_devtlb(e, 0);
    submit_wait(e, 0);
    step_ms(e, 50);
    submit_devtlb(e, 1);
    step_ms(e, 51);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ITESID_MASK, ==,
                    VTD_IQER_ITESID(SID(0)));
    step_ms(e, 50);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ITESID_MASK, ==,
                    VTD_IQER_ITESID(SID(0)));
    /* both requests retired: a new wait completes at once */
    clear_fsts(e, VTD_FSTS_ITE);
    w = submit_wait(e, 0);
    g_assert(wait_done(e, w));
    g_assert_cmphex(fsts(e), ==, 0);
}

/* ICESID names the first unexpected completion until ICE is cleared. */
static void test_icesid_kept(Env *e)
{
    knob_bool(e, 0, "inval-error", true);
    knob_bool(e, 1, "inval-error", true);
    submit_devtlb(e, 0);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ICE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ICESID_MASK, ==,
                    VTD_IQER_ICESID(SID(0)));
    submit_devtlb(e, 1);
    g_assert_cmphex(iqer(e) & VTD_IQER_ICESID_MASK, ==,
                    VTD_IQER_ICESID(SID(0)));
    clear_fsts(e, VTD_FSTS_ICE);
    submit_devtlb(e, 1);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ICE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ICESID_MASK, ==,
                    VTD_IQER_ICESID(SID(1)));
}

/* IQEI: 4 for a reserved field violation, 3 for an invalid type */
static void test_iqei(Env *e)
{
    uint32_t bad, w;

    bad = submit(e, VTD_INV_DESC_WAIT | VTD_INV_DESC_WAIT_SW | 0x80,
                 WAIT_STATUS);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_IQE);
    g_assert_cmpuint(iqer(e) & VTD_IQER_IQEI_MASK, ==, 4);
    g_assert_cmpuint(iqh(e), ==, qptr(e, bad));

    /* software replaces the descriptor and clears IQE */
    put_desc(e, bad, VTD_INV_DESC_IOTLB | VTD_INV_DESC_IOTLB_GLOBAL, 0);
    clear_fsts(e, VTD_FSTS_IQE);
    w = submit_wait(e, 0);
    g_assert(wait_done(e, w));

    bad = submit(e, 0xf, 0);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_IQE);
    g_assert_cmpuint(iqer(e) & VTD_IQER_IQEI_MASK, ==, 3);
    g_assert_cmpuint(iqh(e), ==, qptr(e, bad));
}

/*
 * A pending wait completes while IQE is set (it was fetched before the
 * bad descriptor), but the completion does not fetch: IQH stays on the
 * bad descriptor until software clears IQE.
 */
static void test_completion_iqe(Env *e)
{
    uint32_t w0, w1, bad;

    knob_uint(e, 0, "inval-delay-ms", 50);
    submit_devtlb(e, 0);
    w0 = submit_wait(e, 0);
    bad = submit(e, VTD_INV_DESC_WAIT | VTD_INV_DESC_WAIT_SW | 0x80,
                 WAIT_STATUS);
    w1 = submit_wait(e, 0);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_IQE);
    step_ms(e, 51);
    g_assert(wait_done(e, w0));
    g_assert(!wait_done(e, w1));
    g_assert_cmpuint(iqh(e), ==, qptr(e, bad));

    put_desc(e, bad, VTD_INV_DESC_IOTLB | VTD_INV_DESC_IOTLB_GLOBAL, 0);
    clear_fsts(e, VTD_FSTS_IQE);
    kick(e);
    g_assert(wait_done(e, w1));
    g_assert_cmphex(fsts(e), ==, 0);
}

/*
 * 33 invalidations to a hung device: 32 ITags, so 32 are sent and fetching
 * stalls at the 33rd until one retires (here: all time out).
 */
static void test_itag_unique(Env *e)
{
    uint32_t w;
    int i;

    knob_bool(e, 0, "drop-inval", true);
    for (i = 0; i < 33; i++) {
        submit_devtlb(e, 0);
    }
    w = submit_wait(e, 0);
    g_assert_cmpuint(received(e, 0), ==, 32);
    g_assert_cmpuint(iqh(e), ==, qptr(e, 32));
    g_assert_cmphex(fsts(e), ==, 0);

    step_ms(e, TIMEOUT_MS + 1);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmpuint(iqh(e), ==, qptr(e, 32));
    clear_fsts(e, VTD_FSTS_ITE);
    g_assert_cmpuint(received(e, 0), ==, 33);
    g_assert_cmpuint(iqh(e), ==, qptr(e, e->tail));
    g_assert(!wait_done(e, w));
}

/*
 * A PASID-based device-TLB invalidation (256-bit descriptor) carries its
 * PASID and Global bit; in a 128-bit queue its type is invalid (IQEI 3).
 * It reaches the notifiers of the device's PASID address spaces: this
 * device watches none (its ATC holds translations without PASID), so it
 * receives nothing and the request completes at once.
 */
static void test_pasid_devtlb(Env *e)
{
    uint64_t lo = VTD_INV_DESC_DEV_PIOTLB | ((uint64_t)SID(0) << 16) |
                  (5ULL << 32);
    g_autofree char *log = NULL;
    uint32_t w;

    submit(e, lo, IOVA | 1);
    if (!e->sm) {
        g_assert_cmphex(fsts(e), ==, VTD_FSTS_IQE);
        g_assert_cmpuint(iqer(e) & VTD_IQER_IQEI_MASK, ==, 3);
        g_assert_cmpuint(received(e, 0), ==, 0);
        return;
    }
    w = submit_wait(e, 0);
    g_assert(wait_done(e, w));
    g_assert_cmpuint(received(e, 0), ==, 0);
    g_assert_cmpuint(dev_stat(e, 0, ATD_STAT_ATC_EVICTIONS), ==, 0);
    log = trace_log_read(e->trace_log);
    g_assert(strstr(log, "sid=0x0020 itag=0 pasid=0x5 global=1"));
}

/*
 * QI cannot be disabled while a wait is pending; reset forgets pending
 * waits and outstanding requests: no status write, no ITE later.
 */
static void test_disable_reset(Env *e)
{
    uint32_t w;

    knob_bool(e, 0, "drop-inval", true);
    submit_devtlb(e, 0);
    w = submit_wait(e, 0);
    qtest_writel(e->qts, IOMMU_BASE + DMAR_GCMD_REG, 0);
    g_assert_cmphex(qtest_readl(e->qts, IOMMU_BASE + DMAR_GSTS_REG) &
                    VTD_GSTS_QIES, ==, VTD_GSTS_QIES);
    g_assert_cmpuint(iqh(e), ==, qptr(e, 2));

    qtest_qmp_assert_success(e->qts, "{'execute': 'system_reset'}");
    qtest_qmp_eventwait(e->qts, "RESET");
    step_ms(e, 2 * TIMEOUT_MS);
    g_assert(!wait_done(e, w));
    g_assert_cmphex(fsts(e), ==, 0);
    g_assert_cmphex(iqer(e), ==, 0);
}

/*
 * Migration with a wait pending behind a hung device's request: on the
 * destination the wait is still pending (QI disable refused, no status
 * write) and the request still times out, with its ITESID.
 */
static void test_migrate(Env *e)
{
    g_autofree char *sock = g_strdup_printf("%s/vtd-iq-test-%d.sock",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Case c = { .sm = e->sm };
    Env *d;
    uint32_t w;

    knob_bool(e, 0, "drop-inval", true);
    submit_devtlb(e, 0);
    w = submit_wait(e, 0);
    g_assert_cmpuint(iqh(e), ==, qptr(e, 2));

    d = env_launch(&c, uri);
    migrate_and_wait(e->qts, d->qts, uri);
    unlink(sock);
    env_attach(d);
    d->tail = e->tail;
    d->waits = e->waits;

    g_assert_cmpuint(iqh(d), ==, qptr(d, 2));
    qtest_writel(d->qts, IOMMU_BASE + DMAR_GCMD_REG, 0);
    g_assert_cmphex(qtest_readl(d->qts, IOMMU_BASE + DMAR_GSTS_REG) &
                    VTD_GSTS_QIES, ==, VTD_GSTS_QIES);
    g_assert(!wait_done(d, w));
    step_ms(d, TIMEOUT_MS + 1);
    g_assert_cmphex(fsts(d), ==, VTD_FSTS_ITE);
    g_assert_cmphex(iqer(d) & VTD_IQER_ITESID_MASK, ==,
                    VTD_IQER_ITESID(SID(0)));
    g_assert(!wait_done(d, w));
    clear_fsts(d, VTD_FSTS_ITE);
    g_assert(wait_done(d, submit_wait(d, 0)));
    env_stop(d);
}

/* A source-id no device answers to: bus 3, where nothing is plugged */
#define SID_NONE        0x0300

/* Save the machine to @path (the source stays paused) */
static void migrate_to_file(Env *e, const char *path)
{
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    bool done = false;

    qtest_qmp_assert_success(e->qts, "{'execute': 'migrate',"
                             " 'arguments': {'uri': %s}}", uri);
    while (!done) {
        QDict *rsp = qtest_qmp(e->qts, "{'execute': 'query-migrate'}");
        QDict *ret = qdict_get_qdict(rsp, "return");
        const char *status = qdict_get_try_str(ret, "status");

        g_assert(status && strcmp(status, "failed"));
        done = !strcmp(status, "completed");
        qobject_unref(rsp);
        if (!done) {
            g_usleep(1000);
        }
    }
}

/*
 * Whether intel-iommu's device-TLB subsection is in the migration stream of
 * the machine now: a subsection is sent with its name.
 */
static bool stream_has_devtlb_inv(Env *e)
{
    static const char name[] = "iommu-intel/devtlb-inv";
    g_autofree char *path = NULL;
    g_autofree char *buf = NULL;
    gsize len;
    int fd;

    fd = g_file_open_tmp("vtd-iq-test-XXXXXX.mig", &path, NULL);
    g_assert(fd >= 0);
    close(fd);
    migrate_to_file(e, path);
    g_assert(g_file_get_contents(path, &buf, &len, NULL));
    unlink(path);
    return memmem(buf, len, name, sizeof(name) - 1) != NULL;
}

/*
 * The latest machine type: a device-TLB invalidation that no device
 * answers keeps the wait behind it pending, the request times out with
 * an ITE naming the source-id, and while it is outstanding its state is
 * in the migration stream.
 */
static void test_unanswered_ite(Env *e)
{
    uint32_t w;

    submit(e, VTD_INV_DESC_DEVICE | ((uint64_t)SID_NONE << 32), IOVA);
    w = submit_wait(e, 0);
    g_assert(!wait_done(e, w));
    step_ms(e, TIMEOUT_MS + 1);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ITESID_MASK, ==,
                    VTD_IQER_ITESID(SID_NONE));
    g_assert(!wait_done(e, w));

    /* a hung device's request, outstanding when the machine is saved */
    clear_fsts(e, VTD_FSTS_ITE);
    knob_bool(e, 0, "drop-inval", true);
    submit_devtlb(e, 0);
    g_assert(stream_has_devtlb_inv(e));
}

/*
 * pc-q35-10.2 (x-ite=off): what QEMU 10.2 did. A device-TLB invalidation
 * completes when fetched, answered or not, and nothing times out; an
 * unexpected answer is no ICE; IQERCD stays 0, even for a queue error;
 * and the migration stream has nothing the 10.2 model did not have.
 */
static void test_compat_10_2(Env *e)
{
    uint32_t w, bad;

    submit(e, VTD_INV_DESC_DEVICE | ((uint64_t)SID_NONE << 32), IOVA);
    w = submit_wait(e, 0);
    g_assert(wait_done(e, w));

    /* a hung device still gets the request: its ATC is invalidated */
    knob_bool(e, 0, "drop-inval", true);
    submit_devtlb(e, 0);
    w = submit_wait(e, 0);
    g_assert(wait_done(e, w));
    g_assert_cmpuint(received(e, 0), ==, 1);
    step_ms(e, 2 * TIMEOUT_MS);
    g_assert_cmphex(fsts(e), ==, 0);

    /* a slow device's late answer, and an unexpected one */
    knob_uint(e, 1, "inval-delay-ms", 50);
    submit_devtlb(e, 1);
    step_ms(e, 51);
    g_assert_cmpuint(dev_stat(e, 1, ATD_STAT_INVAL_COMPLETED), ==, 1);
    knob_uint(e, 1, "inval-delay-ms", 0);
    knob_bool(e, 1, "inval-error", true);
    submit_devtlb(e, 1);
    g_assert_cmphex(fsts(e), ==, 0);
    g_assert_cmphex(iqer(e), ==, 0);

    /* a queue error: IQE as before, no IQEI */
    bad = submit(e, VTD_INV_DESC_WAIT | VTD_INV_DESC_WAIT_SW | 0x80,
                 WAIT_STATUS);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_IQE);
    g_assert_cmpuint(iqh(e), ==, qptr(e, bad));
    g_assert_cmphex(iqer(e), ==, 0);
    /* ITE and ICE are not status bits of this model */
    clear_fsts(e, VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE);
    g_assert_cmphex(fsts(e), ==, 0);

    g_assert(!stream_has_devtlb_inv(e));
}

/* Write config space of @bus:@devfn through port 0xcf8 (any bus) */
static void cfg_writeb(QTestState *qts, int bus, int devfn, int off,
                       uint8_t val)
{
    qtest_outl(qts, 0xcf8, 0x80000000U | bus << 16 | devfn << 8 | (off & ~3));
    qtest_outb(qts, 0xcfc + (off & 3), val);
}

static uint32_t cfg_readl(QTestState *qts, int bus, int devfn, int off)
{
    qtest_outl(qts, 0xcf8, 0x80000000U | bus << 16 | devfn << 8 | off);
    return qtest_inl(qts, 0xcfc);
}

static void cfg_writew(QTestState *qts, int bus, int devfn, int off,
                       uint16_t val)
{
    qtest_outl(qts, 0xcf8, 0x80000000U | bus << 16 | devfn << 8 | (off & ~3));
    qtest_outw(qts, 0xcfc + (off & 2), val);
}

static int find_exp_cap(QTestState *qts, int bus, int devfn)
{
    int off = cfg_readl(qts, bus, devfn, PCI_CAPABILITY_LIST) & 0xfc;

    while (off) {
        uint32_t hdr = cfg_readl(qts, bus, devfn, off);

        if ((hdr & 0xff) == PCI_CAP_ID_EXP) {
            return off;
        }
        off = (hdr >> 8) & 0xfc;
    }
    g_assert_not_reached();
}

static void set_bus_numbers(QTestState *qts, int bus, int devfn,
                            uint8_t secondary, uint8_t subordinate)
{
    cfg_writeb(qts, bus, devfn, PCI_PRIMARY_BUS, bus);
    cfg_writeb(qts, bus, devfn, PCI_SECONDARY_BUS, secondary);
    cfg_writeb(qts, bus, devfn, PCI_SUBORDINATE_BUS, subordinate);
}

/* The guest's part of turning queued invalidation on */
static void qi_on(Env *e)
{
    e->tail = 0;
    qtest_memset(e->qts, INV_QUEUE, 0, 0x1000);
    qtest_writeq(e->qts, IOMMU_BASE + DMAR_IQA_REG, INV_QUEUE);
    vtd_write_gcmd(e, VTD_GCMD_QIE, VTD_GSTS_QIES);
}

#define ROOT_TABLE      0x200000ULL

/*
 * A PCIe switch (upstream port under a root port, a downstream port, an
 * ATS endpoint at 03:00.0) is unplugged: device_del, and the reset that
 * completes it. Its ports' secondary buses are freed with the ports, and
 * intel-iommu must not touch them afterwards when the guest makes it walk
 * its address spaces: a device-TLB invalidation to the endpoint's old
 * source-id, translation turned on, a global context-cache invalidation.
 * The source-id now has no device: the invalidation times out (ITE).
 */
static void test_switch_unplug(const void *data)
{
    const uint16_t sid = 0x0300;
    Env *e = g_new0(Env, 1);
    uint32_t w;

    e->size = 256;
    e->qts = qtest_init("-M q35 -device intel-iommu,device-iotlb=on "
                        "-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support"
                        "=off "
                        "-device pcie-root-port,id=rp0,chassis=1,addr=0x6 "
                        "-device x3130-upstream,id=sw0,bus=rp0 "
                        "-device xio3130-downstream,id=dp0,bus=sw0,"
                        "chassis=2,slot=0 "
                        "-device ats-testdev,id=devsw,bus=dp0");
    set_bus_numbers(e->qts, 0, QPCI_DEVFN(6, 0), 1, 3);
    set_bus_numbers(e->qts, 1, 0, 2, 3);
    set_bus_numbers(e->qts, 2, 0, 3, 3);
    qi_on(e);

    /* The endpoint answers */
    submit(e, VTD_INV_DESC_DEVICE | ((uint64_t)sid << 32), IOVA);
    w = submit_wait(e, 0);
    g_assert(wait_done(e, w));

    /*
     * Native hot-unplug: the attention button, and the guest powers the
     * slot off in answer.
     */
    qtest_qmp_device_del_send(e->qts, "sw0");
    cfg_writew(e->qts, 0, QPCI_DEVFN(6, 0),
               find_exp_cap(e->qts, 0, QPCI_DEVFN(6, 0)) + PCI_EXP_SLTCTL,
               PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PWR_IND_OFF |
               PCI_EXP_SLTCTL_ATTN_IND_OFF);
    for (;;) {
        QDict *rsp = qtest_qmp_eventwait_ref(e->qts, "DEVICE_DELETED");
        QDict *ev = qdict_get_qdict(rsp, "data");
        bool done = !g_strcmp0(qdict_get_try_str(ev, "device"), "sw0");

        qobject_unref(rsp);
        if (done) {
            break;
        }
    }
    /* The switch's memory goes once RCU has reclaimed its old maps */
    g_usleep(500 * 1000);
    submit(e, VTD_INV_DESC_DEVICE | ((uint64_t)sid << 32), IOVA);
    w = submit_wait(e, 0);
    g_assert(!wait_done(e, w));
    step_ms(e, TIMEOUT_MS + 1);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmphex(iqer(e) & VTD_IQER_ITESID_MASK, ==, VTD_IQER_ITESID(sid));
    clear_fsts(e, VTD_FSTS_ITE);

    /* Translation on (every address space switches), context-cache flush */
    qtest_memset(e->qts, ROOT_TABLE, 0, 0x1000);
    qtest_writeq(e->qts, IOMMU_BASE + DMAR_RTADDR_REG, ROOT_TABLE);
    vtd_write_gcmd(e, VTD_GCMD_QIE | VTD_GCMD_SRTP, VTD_GSTS_RTPS);
    vtd_write_gcmd(e, VTD_GCMD_QIE | VTD_GCMD_TE, VTD_GSTS_TES);
    submit(e, VTD_INV_DESC_CC | VTD_INV_DESC_CC_GLOBAL, 0);
    w = submit_wait(e, 0);
    g_assert(wait_done(e, w));
    g_assert_cmphex(fsts(e), ==, 0);

    qtest_quit(e->qts);
    g_free(e);
}

/* Bad iq-fetch-depth values are refused at realize, with the reason. */
static void test_bad_depth(const void *data)
{
    static const char *const bad[] = { "0", "33" };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    int i;

    g_assert(qemu);
    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        g_autofree char *dev =
            g_strdup_printf("intel-iommu,iq-fetch-depth=%s", bad[i]);
        g_autofree char *err = NULL;
        const char *argv[] = { qemu, "-M", "q35", "-accel", "qtest",
                               "-nodefaults", "-display", "none",
                               "-device", dev, NULL };
        int status;

        g_assert(g_spawn_sync(NULL, (char **)argv, NULL,
                              G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                              &err, &status, NULL));
        g_assert(status != 0);
        g_assert(strstr(err, "iq-fetch-depth must be between 1 and 32"));
    }
}

static void run_case(const void *data)
{
    const Case *c = data;
    Env *e = env_start(c);

    c->fn(e);
    env_stop(e);
}

static void add_machine_case(const char *name, void (*fn)(Env *e),
                             const char *machine, const char *opts,
                             bool trace)
{
    int sm;

    for (sm = 0; sm < 2; sm++) {
        Case *c = g_new0(Case, 1);
        g_autofree char *path =
            g_strdup_printf("/vtd-iq/%s/%s", sm ? "scalable" : "legacy", name);

        *c = (Case) { .fn = fn, .opts = opts, .machine = machine, .sm = sm,
                      .trace = trace };
        qtest_add_data_func_full(path, c, run_case, g_free);
    }
}

static void add_case(const char *name, void (*fn)(Env *e), const char *opts,
                     bool trace)
{
    add_machine_case(name, fn, NULL, opts, trace);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add_case("fetch-ahead", test_fetch_ahead, NULL, false);
    add_case("fetch-depth-1", test_fetch_depth1, ",iq-fetch-depth=1", false);
    add_case("fetch-depth-limit", test_fetch_depth_limit, NULL, false);
    add_case("fence", test_fence, NULL, false);
    add_case("ite/aborts-pending", test_ite_aborts_pending, NULL, false);
    add_case("ite/healthy-no-ice", test_healthy_no_ice, NULL, false);
    add_case("ite/timeout-while-ite", test_timeout_while_ite, NULL, false);
    add_case("ice/sid-kept", test_icesid_kept, NULL, false);
    add_case("iqe/iqei", test_iqei, NULL, false);
    add_case("iqe/completion", test_completion_iqe, NULL, false);
    add_case("itag-unique", test_itag_unique, NULL, false);
    add_case("pasid-devtlb", test_pasid_devtlb, NULL, true);
    add_case("disable-reset", test_disable_reset, NULL, false);
    add_case("migrate", test_migrate, NULL, false);
    add_case("ite/unanswered", test_unanswered_ite, NULL, false);
    add_machine_case("compat-10.2", test_compat_10_2, "pc-q35-10.2", NULL,
                     false);
    qtest_add_data_func("/vtd-iq/bad-depth", NULL, test_bad_depth);
    qtest_add_data_func("/vtd-iq/switch-unplug", NULL, test_switch_unplug);
    return g_test_run();
}
