/*
 * ATS test endpoint: a PCIe device with a real Address Translation Cache.
 *
 * Translations come from the vIOMMU by ATS Translation Requests and are
 * cached in a bounded ATC; ATS Invalidate Requests from the vIOMMU (a
 * device-IOTLB notifier that answers: IOMMU_NOTIFIER_DEVIOTLB_COMPLETION)
 * evict them and are then answered with an
 * Invalidate Completion, late, wrongly or never when the knobs say so. A small
 * DMA engine moves data through the ATC so that a guest driver generates
 * real map/unmap and invalidation traffic. See docs/specs/ats-testdev.rst.
 *
 * Copyright (c) 2026 ite-lab
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qom/object.h"
#include "system/address-spaces.h"
#include "system/memory.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pcie.h"
#include "hw/pci/msi.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "hw/misc/ats-testdev.h"
#include "trace.h"

OBJECT_DECLARE_SIMPLE_TYPE(ATSTestDevState, ATS_TESTDEV)

#define ATD_MSI_OFFSET      0x50
#define ATD_PCIE_OFFSET     0x80
#define ATD_ATC_SIZE_MAX    1024
#define ATD_HUNG_INTERVAL_MAX_MS 60000
#define ATD_ITAGS           32      /* an ATS ITag has 5 bits */

/*
 * A cached translation. Translated requests go to system memory
 * (address_space_memory): only translations into it are cached, so that
 * an entry is plain data and migrates.
 */
typedef struct ATSTestDevATCEntry {
    bool valid;
    uint64_t iova;          /* base, aligned to addr_mask + 1 */
    uint64_t addr_mask;
    uint64_t translated;    /* base of the translated range */
    uint32_t perm;          /* IOMMUAccessFlags */
    uint64_t last_use;      /* for least-recently-used replacement */
} ATSTestDevATCEntry;

/* An Invalidate Request whose completion is delayed (inval-delay-ms). */
typedef struct ATSTestDevInval {
    uint64_t iova;
    uint64_t addr_mask;
    uint8_t itag;
    int64_t due_ns;         /* QEMU_CLOCK_VIRTUAL, which migrates */
    QTAILQ_ENTRY(ATSTestDevInval) next;
} ATSTestDevInval;

struct ATSTestDevState {
    PCIDevice parent_obj;

    MemoryRegion mmio;

    /* Registers */
    uint32_t status;
    uint64_t src;
    uint64_t dst;
    uint32_t len;
    uint32_t pattern;
    uint32_t irq_status;
    uint32_t irq_enable;
    uint64_t fault_addr;
    uint64_t stats[ATD_STAT_COUNT];

    /* ATC */
    uint32_t atc_size;
    ATSTestDevATCEntry *atc;
    uint64_t atc_clock;

    /* Knobs, settable at run time with qom-set */
    uint32_t inval_delay_ms;
    bool drop_inval;
    bool inval_error;
    bool verify_atc;
    bool hung_dma;
    uint32_t hung_dma_interval_ms;

    /* Invalidate Requests, for the ATC's translations (no PASID) */
    IOMMUNotifier inval_notifier;
    bool inval_notifier_registered;
    bool inval_unheard;             /* the vIOMMU refused the notifier */

    /* Invalidate Completions owed, oldest first: answered in order */
    QTAILQ_HEAD(, ATSTestDevInval) delayed;
    QEMUTimer *inval_timer;

    /* The last DMA command, which a hung engine repeats (hung-dma) */
    uint32_t last_cmd;              /* 0: none since reset */
    uint64_t last_src;
    uint64_t last_dst;
    uint32_t last_len;
    uint32_t last_pattern;
    bool in_hung_run;
    QEMUTimer *hung_timer;
};

static bool atd_ats_enabled(ATSTestDevState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    return pci_get_word(pdev->config + pdev->exp.ats_cap + PCI_ATS_CTRL) &
           PCI_ATS_CTRL_ENABLE;
}

static unsigned atd_atc_entries(ATSTestDevState *s)
{
    unsigned i, n = 0;

    for (i = 0; i < s->atc_size; i++) {
        n += s->atc[i].valid;
    }
    return n;
}

static void atd_atc_flush(ATSTestDevState *s)
{
    trace_ats_testdev_atc_flush(atd_atc_entries(s));
    memset(s->atc, 0, s->atc_size * sizeof(*s->atc));
}

static void atd_update_irq(ATSTestDevState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    bool level = s->irq_status & s->irq_enable;

    if (msi_enabled(pdev)) {
        if (level) {
            msi_notify(pdev, 0);
        }
    } else {
        pci_set_irq(pdev, level);
    }
}

/* ---- Address translation: the ATC and ATS Translation Requests ---- */

static ATSTestDevATCEntry *atd_atc_lookup(ATSTestDevState *s, hwaddr iova,
                                         IOMMUAccessFlags need)
{
    unsigned i;

    for (i = 0; i < s->atc_size; i++) {
        ATSTestDevATCEntry *e = &s->atc[i];

        if (e->valid && (iova & ~e->addr_mask) == e->iova &&
            (e->perm & need) == need) {
            return e;
        }
    }
    return NULL;
}

static ATSTestDevATCEntry *atd_atc_insert(ATSTestDevState *s,
                                          const IOMMUTLBEntry *t)
{
    ATSTestDevATCEntry *victim = NULL;
    hwaddr iova = t->iova & ~t->addr_mask;
    unsigned i;

    /*
     * A newer translation of a cached range (a read-only one asked again
     * for a write) supersedes it; otherwise a free entry, or the least
     * recently used one, takes it.
     */
    for (i = 0; i < s->atc_size; i++) {
        ATSTestDevATCEntry *e = &s->atc[i];

        if (e->valid && e->iova == iova && e->addr_mask == t->addr_mask) {
            victim = e;
            break;
        }
    }
    for (i = 0; !victim && i < s->atc_size; i++) {
        if (!s->atc[i].valid) {
            victim = &s->atc[i];
        }
    }
    if (!victim) {
        victim = &s->atc[0];
        for (i = 1; i < s->atc_size; i++) {
            if (s->atc[i].last_use < victim->last_use) {
                victim = &s->atc[i];
            }
        }
    }
    *victim = (ATSTestDevATCEntry) {
        .valid = true,
        .iova = iova,
        .addr_mask = t->addr_mask,
        .translated = t->translated_addr & ~t->addr_mask,
        .perm = t->perm,
    };
    return victim;
}

/*
 * An ATS Translation Request for the page at @iova, answered by the
 * vIOMMU; one that does not implement them is asked through the device's
 * IOMMU address space instead. perm is IOMMU_NONE when refused.
 */
static IOMMUTLBEntry atd_translation_request(ATSTestDevState *s, hwaddr iova,
                                             bool is_write)
{
    IOMMUTLBEntry t = { .perm = IOMMU_NONE };
    uint32_t errors;
    ssize_t n;

    n = pci_ats_request_translation(PCI_DEVICE(s), PCI_NO_PASID, false, false,
                                    iova, 1, !is_write, &t, 1, &errors);
    if (n == -ENODEV) {
        AddressSpace *as = pci_device_iommu_address_space(PCI_DEVICE(s));

        RCU_READ_LOCK_GUARD();
        return address_space_get_iotlb_entry(as, iova, is_write,
                                             MEMTXATTRS_UNSPECIFIED);
    }
    if (n != 1) {
        t.perm = IOMMU_NONE;
    }
    return t;
}

/*
 * Translate one access of the DMA engine. With ATS enabled the ATC is
 * used (filled by a Translation Request on a miss) and the access goes out
 * translated; with ATS disabled it goes out untranslated and the vIOMMU
 * translates it. Returns ATD_ST_OK or ATD_ST_TRANSLATION.
 */
static uint32_t atd_translate(ATSTestDevState *s, hwaddr iova, bool is_write,
                              AddressSpace **as, hwaddr *addr)
{
    IOMMUAccessFlags need = is_write ? IOMMU_WO : IOMMU_RO;
    ATSTestDevATCEntry *e;
    IOMMUTLBEntry t;

    if (!atd_ats_enabled(s)) {
        s->stats[ATD_STAT_UNTRANSLATED]++;
        *as = pci_get_address_space(PCI_DEVICE(s));
        *addr = iova;
        return ATD_ST_OK;
    }

    e = atd_atc_lookup(s, iova, need);
    if (e) {
        s->stats[ATD_STAT_ATC_HITS]++;
    } else if (s->hung_dma) {
        /* A hung device sends no more Translation Requests */
        s->stats[ATD_STAT_ATC_MISSES]++;
        return ATD_ST_TRANSLATION;
    } else {
        s->stats[ATD_STAT_ATC_MISSES]++;
        s->stats[ATD_STAT_TRANSLATION_REQS]++;
        trace_ats_testdev_translation_req(iova, is_write);
        t = atd_translation_request(s, iova, is_write);
        if (!(t.perm & need) || t.target_as != &address_space_memory) {
            s->stats[ATD_STAT_TRANSLATION_UR]++;
            trace_ats_testdev_translation_ur(iova, t.perm);
            return ATD_ST_TRANSLATION;
        }
        trace_ats_testdev_translation_done(iova, t.translated_addr,
                                           t.addr_mask, t.perm);
        if (s->inval_unheard) {
            /* Never told of invalidations, it must not cache: use it once */
            *addr = (t.translated_addr & ~t.addr_mask) + (iova & t.addr_mask);
            e = NULL;
        } else {
            e = atd_atc_insert(s, &t);
        }
    }
    if (e) {
        e->last_use = ++s->atc_clock;
        *addr = e->translated + (iova & e->addr_mask);
    }
    *as = &address_space_memory;
    trace_ats_testdev_atc_use(iova, *addr);

    /*
     * Every translated request is reported to the vIOMMU, which may block
     * it (an IOMMU that took ATS away from this function, whose ATC it can
     * no longer invalidate, blocks its translated requests and answers its
     * translation requests with UR) and says, without side effects,
     * whether its tables still agree.
     */
    switch (pci_ats_translated_access(PCI_DEVICE(s), PCI_NO_PASID, iova, *addr,
                                      is_write)) {
    case PCI_ATS_ACCESS_BLOCKED:
        s->stats[ATD_STAT_TRANSLATION_UR]++;
        trace_ats_testdev_translation_ur(iova, 0);
        return ATD_ST_TRANSLATION;
    case PCI_ATS_ACCESS_STALE:
        if (s->verify_atc) {
            s->stats[ATD_STAT_STALE_USES]++;
            trace_ats_testdev_stale_use(iova, *addr);
        }
        break;
    default:
        break;
    }
    return ATD_ST_OK;
}

/* Move @len bytes between @buf and the IOVA range at @iova, page by page. */
static uint32_t atd_dma(ATSTestDevState *s, hwaddr iova, uint8_t *buf,
                        uint32_t len, bool is_write)
{
    while (len) {
        uint32_t chunk = MIN(len, ATS_TESTDEV_PAGE_SIZE -
                                  (iova & (ATS_TESTDEV_PAGE_SIZE - 1)));
        AddressSpace *as;
        hwaddr addr;
        uint32_t st = atd_translate(s, iova, is_write, &as, &addr);

        if (st == ATD_ST_OK &&
            address_space_rw(as, addr, MEMTXATTRS_UNSPECIFIED, buf, chunk,
                             is_write) != MEMTX_OK) {
            st = is_write ? ATD_ST_DMA_WRITE : ATD_ST_DMA_READ;
        }
        if (st != ATD_ST_OK) {
            s->fault_addr = iova;
            return st;
        }
        if (s->in_hung_run) {
            s->stats[ATD_STAT_HUNG_DMA_ACCESSES]++;
        }
        iova += chunk;
        buf += chunk;
        len -= chunk;
    }
    return ATD_ST_OK;
}

/* Run DMA command @cmd with the command registers' values. */
static uint32_t atd_run(ATSTestDevState *s, uint32_t cmd, uint64_t src,
                        uint64_t dst, uint32_t len, uint32_t pattern)
{
    g_autofree uint8_t *a = NULL;
    g_autofree uint8_t *b = NULL;
    uint32_t st, i;

    if (cmd < ATD_CMD_COPY || cmd > ATD_CMD_COMPARE) {
        return ATD_ST_BAD_CMD;
    }
    if (len == 0 || len > ATS_TESTDEV_MAX_LEN) {
        return ATD_ST_BAD_LEN;
    }
    if (src + len < src || dst + len < dst) {
        return ATD_ST_BAD_ADDR;
    }
    /* Translated requests bypass bus_master_as: check the gate here. */
    if (!(pci_get_word(PCI_DEVICE(s)->config + PCI_COMMAND) &
          PCI_COMMAND_MASTER)) {
        return ATD_ST_NO_MASTER;
    }

    a = g_malloc(len);
    switch (cmd) {
    case ATD_CMD_COPY:
        st = atd_dma(s, src, a, len, false);
        return st ? st : atd_dma(s, dst, a, len, true);
    case ATD_CMD_FILL:
        for (i = 0; i < len; i++) {
            a[i] = pattern >> (8 * (i & 3));
        }
        return atd_dma(s, dst, a, len, true);
    default: /* ATD_CMD_COMPARE */
        b = g_malloc(len);
        st = atd_dma(s, src, a, len, false);
        st = st ? st : atd_dma(s, dst, b, len, false);
        if (st) {
            return st;
        }
        for (i = 0; i < len && a[i] == b[i]; i++) {
            /* find the first difference */
        }
        if (i < len) {
            s->fault_addr = dst + i;
            return ATD_ST_MISMATCH;
        }
        return ATD_ST_OK;
    }
}

/* ---- The hung engine (hung-dma) ---- */

static void atd_hung_arm(ATSTestDevState *s)
{
    if (s->hung_dma && s->last_cmd) {
        timer_mod(s->hung_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                                 (int64_t)s->hung_dma_interval_ms * SCALE_MS);
    } else {
        timer_del(s->hung_timer);
    }
}

/*
 * A hung device's engine repeats its last command through its ATC: no
 * status, no interrupt, only memory accesses (hung-dma-accesses).
 */
static void atd_hung_timer(void *opaque)
{
    ATSTestDevState *s = opaque;
    uint32_t st;

    if (!s->hung_dma || !s->last_cmd) {
        return;
    }
    s->in_hung_run = true;
    st = atd_run(s, s->last_cmd, s->last_src, s->last_dst, s->last_len,
                 s->last_pattern);
    s->in_hung_run = false;
    trace_ats_testdev_hung_dma(s->last_cmd, st);
    atd_hung_arm(s);
}

static void atd_doorbell(ATSTestDevState *s, uint32_t cmd)
{
    trace_ats_testdev_cmd(cmd, s->src, s->dst, s->len);
    switch (cmd) {
    case ATD_CMD_ATC_FLUSH:
        atd_atc_flush(s);
        s->status = ATD_ST_OK;
        break;
    case ATD_CMD_STATS_RESET:
        memset(s->stats, 0, sizeof(s->stats));
        s->status = ATD_ST_OK;
        break;
    default:
        s->status = atd_run(s, cmd, s->src, s->dst, s->len, s->pattern);
        if (cmd >= ATD_CMD_COPY && cmd <= ATD_CMD_COMPARE) {
            s->last_cmd = cmd;
            s->last_src = s->src;
            s->last_dst = s->dst;
            s->last_len = s->len;
            s->last_pattern = s->pattern;
            if (!timer_pending(s->hung_timer)) {
                atd_hung_arm(s);
            }
        }
        s->stats[s->status ? ATD_STAT_DMA_ERRORS : ATD_STAT_DMA_COMMANDS]++;
        if (s->status == ATD_ST_BAD_CMD || s->status == ATD_ST_BAD_LEN ||
            s->status == ATD_ST_BAD_ADDR) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "ats-testdev: command %u rejected: status 0x%x "
                          "(src 0x%" PRIx64 " dst 0x%" PRIx64 " len %u)\n",
                          cmd, s->status, s->src, s->dst, s->len);
        }
        break;
    }
    trace_ats_testdev_cmd_done(cmd, s->status);
    s->irq_status |= ATD_IRQ_DONE;
    atd_update_irq(s);
}

/* ---- Invalidations from the vIOMMU ---- */

/*
 * Send the Invalidate Completion. With inval-error, its tag matches no
 * request: the IOMMU sees an unexpected completion, and the request itself
 * stays unanswered.
 */
static void atd_inval_complete(ATSTestDevState *s, hwaddr iova,
                               hwaddr addr_mask, uint8_t itag)
{
    if (s->inval_error) {
        s->stats[ATD_STAT_INVAL_ERRORS]++;
        itag ^= 0x10;
    } else {
        s->stats[ATD_STAT_INVAL_COMPLETED]++;
    }
    trace_ats_testdev_inval_completed(iova, addr_mask, itag, s->inval_error);
    pci_ats_invalidation_complete(PCI_DEVICE(s), itag);
}

static void atd_inval_timer(void *opaque)
{
    ATSTestDevState *s = opaque;
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    ATSTestDevInval *req, *tmp;

    QTAILQ_FOREACH_SAFE(req, &s->delayed, next, tmp) {
        if (req->due_ns > now) {
            timer_mod(s->inval_timer, req->due_ns);
            return;
        }
        QTAILQ_REMOVE(&s->delayed, req, next);
        atd_inval_complete(s, req->iova, req->addr_mask, req->itag);
        g_free(req);
    }
}

/*
 * An Invalidate Request: stop using the translations it covers at once,
 * then answer it, now, after inval-delay-ms, or never (drop-inval). The
 * notifier watches the address space without PASID, the only one whose
 * translations the ATC holds (its Translation Requests carry no PASID).
 */
static void atd_inval_notify(IOMMUNotifier *n, IOMMUTLBEntry *inv)
{
    ATSTestDevState *s = container_of(n, ATSTestDevState, inval_notifier);
    hwaddr addr_mask = inv->addr_mask;
    hwaddr start = inv->iova & ~addr_mask;
    hwaddr end = start + addr_mask;
    uint8_t itag = inv->itag;
    unsigned i, evicted = 0;

    if (s->hung_dma) {
        /* Hung: the request is neither acted on nor answered */
        s->stats[ATD_STAT_INVAL_RECEIVED]++;
        s->stats[ATD_STAT_INVAL_DROPPED]++;
        trace_ats_testdev_inval_dropped(start, addr_mask, itag);
        return;
    }

    for (i = 0; i < s->atc_size; i++) {
        ATSTestDevATCEntry *e = &s->atc[i];

        if (e->valid && e->iova <= end && start <= e->iova + e->addr_mask) {
            e->valid = false;
            evicted++;
        }
    }
    s->stats[ATD_STAT_INVAL_RECEIVED]++;
    s->stats[ATD_STAT_ATC_EVICTIONS] += evicted;
    trace_ats_testdev_inval_received(start, addr_mask, itag, evicted);

    if (s->drop_inval) {
        s->stats[ATD_STAT_INVAL_DROPPED]++;
        trace_ats_testdev_inval_dropped(start, addr_mask, itag);
    } else if (s->inval_delay_ms) {
        ATSTestDevInval *req = g_new0(ATSTestDevInval, 1);

        req->iova = start;
        req->addr_mask = addr_mask;
        req->itag = itag;
        req->due_ns = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                      (int64_t)s->inval_delay_ms * SCALE_MS;
        QTAILQ_INSERT_TAIL(&s->delayed, req, next);
        if (!timer_pending(s->inval_timer)) {
            timer_mod(s->inval_timer, req->due_ns);
        }
        trace_ats_testdev_inval_delayed(start, addr_mask, itag,
                                        s->inval_delay_ms);
    } else {
        atd_inval_complete(s, start, addr_mask, itag);
    }
}

/* ---- Registers ---- */

static uint64_t atd_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    ATSTestDevState *s = opaque;
    uint64_t val = 0;

    if (addr >= ATD_REG_STATS && addr < ATD_REG_STATS + 8 * ATD_STAT_COUNT) {
        unsigned idx = (addr - ATD_REG_STATS) / 8;

        val = (addr & 4) ? s->stats[idx] >> 32 : (uint32_t)s->stats[idx];
    } else {
        switch (addr) {
        case ATD_REG_MAGIC:
            val = ATS_TESTDEV_MAGIC;
            break;
        case ATD_REG_VERSION:
            val = ATS_TESTDEV_REVISION;
            break;
        case ATD_REG_STATUS:
            val = s->status;
            break;
        case ATD_REG_CMD:
            break;
        case ATD_REG_SRC:
        case ATD_REG_SRC + 4:
            val = extract64(s->src, (addr & 4) * 8, 32);
            break;
        case ATD_REG_DST:
        case ATD_REG_DST + 4:
            val = extract64(s->dst, (addr & 4) * 8, 32);
            break;
        case ATD_REG_LEN:
            val = s->len;
            break;
        case ATD_REG_PATTERN:
            val = s->pattern;
            break;
        case ATD_REG_IRQ_STATUS:
            val = s->irq_status;
            break;
        case ATD_REG_IRQ_ENABLE:
            val = s->irq_enable;
            break;
        case ATD_REG_FAULT_ADDR:
        case ATD_REG_FAULT_ADDR + 4:
            val = extract64(s->fault_addr, (addr & 4) * 8, 32);
            break;
        case ATD_REG_ATC_ENTRIES:
            val = atd_atc_entries(s);
            break;
        case ATD_REG_ATC_SIZE:
            val = s->atc_size;
            break;
        default:
            qemu_log_mask(LOG_GUEST_ERROR, "ats-testdev: read of unknown "
                          "register 0x%" HWADDR_PRIx "\n", addr);
            break;
        }
    }
    trace_ats_testdev_mmio_read(addr, val);
    return val;
}

static void atd_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    ATSTestDevState *s = opaque;

    trace_ats_testdev_mmio_write(addr, val);
    switch (addr) {
    case ATD_REG_CMD:
        atd_doorbell(s, val);
        break;
    case ATD_REG_SRC:
    case ATD_REG_SRC + 4:
        s->src = deposit64(s->src, (addr & 4) * 8, 32, val);
        break;
    case ATD_REG_DST:
    case ATD_REG_DST + 4:
        s->dst = deposit64(s->dst, (addr & 4) * 8, 32, val);
        break;
    case ATD_REG_LEN:
        s->len = val;
        break;
    case ATD_REG_PATTERN:
        s->pattern = val;
        break;
    case ATD_REG_IRQ_STATUS:
        s->irq_status &= ~val;
        atd_update_irq(s);
        break;
    case ATD_REG_IRQ_ENABLE:
        s->irq_enable = val & ATD_IRQ_DONE;
        atd_update_irq(s);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "ats-testdev: write of 0x%" PRIx64 " to read-only or "
                      "unknown register 0x%" HWADDR_PRIx "\n", val, addr);
        break;
    }
}

static const MemoryRegionOps atd_mmio_ops = {
    .read = atd_mmio_read,
    .write = atd_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

/* Disabling ATS in config space (or an FLR) invalidates the whole ATC. */
static void atd_write_config(PCIDevice *pdev, uint32_t addr, uint32_t val,
                             int len)
{
    ATSTestDevState *s = ATS_TESTDEV(pdev);
    bool was_enabled = atd_ats_enabled(s);

    pci_default_write_config(pdev, addr, val, len);
    msi_write_config(pdev, addr, val, len);
    /* Initiate Function Level Reset: atd_reset(), then config space */
    pcie_cap_flr_write_config(pdev, addr, val, len);
    if (was_enabled != atd_ats_enabled(s)) {
        trace_ats_testdev_ats_enable(!was_enabled);
        if (was_enabled) {
            atd_atc_flush(s);
        }
    }
}

/* ---- Life cycle ---- */

static void atd_drop_delayed(ATSTestDevState *s)
{
    ATSTestDevInval *req, *tmp;

    timer_del(s->inval_timer);
    QTAILQ_FOREACH_SAFE(req, &s->delayed, next, tmp) {
        QTAILQ_REMOVE(&s->delayed, req, next);
        g_free(req);
    }
}

/*
 * Conventional reset and Function Level Reset: the registers, the ATC, the
 * owed Invalidate Completions (dropped: never sent) and the last command
 * of a hung engine; ATS Control as config space resets. An FLR keeps the
 * statistics, which are the lab's record rather than the function's, and
 * the knobs (hung-dma included), which are the lab's settings.
 */
static void atd_reset(DeviceState *dev)
{
    ATSTestDevState *s = ATS_TESTDEV(dev);
    PCIDevice *pdev = PCI_DEVICE(s);
    bool flr = pci_get_word(pdev->config + pdev->exp.exp_cap +
                            PCI_EXP_DEVCTL) & PCI_EXP_DEVCTL_BCR_FLR;

    trace_ats_testdev_reset(flr);
    s->status = ATD_ST_IDLE;
    s->src = s->dst = 0;
    s->len = s->pattern = 0;
    s->irq_status = s->irq_enable = 0;
    s->fault_addr = 0;
    if (!flr) {
        memset(s->stats, 0, sizeof(s->stats));
    }
    atd_atc_flush(s);
    atd_drop_delayed(s);
    s->last_cmd = 0;
    timer_del(s->hung_timer);
    pci_set_word(pdev->config + pdev->exp.ats_cap + PCI_ATS_CTRL, 0);
}

/*
 * Ask the vIOMMU for its Invalidate Requests. Without a vIOMMU that
 * answers Translation Requests there is nothing to ask: translations then
 * come from the device's IOMMU address space (atd_translation_request()).
 * A vIOMMU that cannot send them (intel-iommu with device-iotlb=off, which
 * also refuses Translation Requests) leaves the ATC unused.
 */
static void atd_inval_notifier_register(ATSTestDevState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    IOMMUNotifier *n = &s->inval_notifier;
    Error *err = NULL;

    if (pci_iommu_init_iotlb_notifier(pdev, n, atd_inval_notify, s)) {
        return;
    }
    n->notifier_flags |= IOMMU_NOTIFIER_DEVIOTLB_COMPLETION;
    if (pci_iommu_register_iotlb_notifier(pdev, PCI_NO_PASID, n, &err)) {
        trace_ats_testdev_inval_unheard(error_get_pretty(err));
        error_free(err);
        s->inval_unheard = true;
        return;
    }
    s->inval_notifier_registered = true;
}

static void atd_inval_notifier_unregister(ATSTestDevState *s)
{
    if (s->inval_notifier_registered) {
        pci_iommu_unregister_iotlb_notifier(PCI_DEVICE(s), PCI_NO_PASID,
                                            &s->inval_notifier);
        s->inval_notifier_registered = false;
    }
}

static void atd_realize(PCIDevice *pdev, Error **errp)
{
    ATSTestDevState *s = ATS_TESTDEV(pdev);

    if (s->atc_size < 1 || s->atc_size > ATD_ATC_SIZE_MAX) {
        error_setg(errp, "atc-size must be between 1 and %d, not %u",
                   ATD_ATC_SIZE_MAX, s->atc_size);
        return;
    }
    pci_config_set_interrupt_pin(pdev->config, 1);
    if (msi_init(pdev, ATD_MSI_OFFSET, 1, true, false, errp)) {
        return;
    }
    if (pcie_endpoint_cap_init(pdev, ATD_PCIE_OFFSET) < 0) {
        error_setg(errp, "cannot add the PCI Express capability");
        msi_uninit(pdev);
        return;
    }
    atd_inval_notifier_register(s);
    pcie_cap_flr_init(pdev);
    pcie_ats_init(pdev, ATS_TESTDEV_ATS_OFFSET, true);

    memory_region_init_io(&s->mmio, OBJECT(s), &atd_mmio_ops, s,
                          "ats-testdev-mmio", ATS_TESTDEV_BAR0_SIZE);
    pci_register_bar(pdev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->mmio);

    s->atc = g_new0(ATSTestDevATCEntry, s->atc_size);
    QTAILQ_INIT(&s->delayed);
    s->inval_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, atd_inval_timer, s);
    s->hung_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, atd_hung_timer, s);
}

static void atd_exit(PCIDevice *pdev)
{
    ATSTestDevState *s = ATS_TESTDEV(pdev);

    atd_inval_notifier_unregister(s);
    atd_drop_delayed(s);
    timer_free(s->inval_timer);
    timer_free(s->hung_timer);
    g_free(s->atc);
    pcie_cap_exit(pdev);
    msi_uninit(pdev);
}

static const char *const atd_stat_names[ATD_STAT_COUNT] = {
    [ATD_STAT_ATC_HITS] = "atc-hits",
    [ATD_STAT_ATC_MISSES] = "atc-misses",
    [ATD_STAT_TRANSLATION_REQS] = "translation-requests",
    [ATD_STAT_TRANSLATION_UR] = "translation-ur",
    [ATD_STAT_UNTRANSLATED] = "untranslated-accesses",
    [ATD_STAT_INVAL_RECEIVED] = "inval-received",
    [ATD_STAT_INVAL_COMPLETED] = "inval-completed",
    [ATD_STAT_INVAL_DROPPED] = "inval-dropped",
    [ATD_STAT_INVAL_ERRORS] = "inval-errors",
    [ATD_STAT_ATC_EVICTIONS] = "atc-evictions",
    [ATD_STAT_STALE_USES] = "stale-uses",
    [ATD_STAT_DMA_COMMANDS] = "dma-commands",
    [ATD_STAT_DMA_ERRORS] = "dma-errors",
    [ATD_STAT_HUNG_DMA_ACCESSES] = "hung-dma-accesses",
};

static bool atd_get_hung_dma(Object *obj, Error **errp)
{
    return ATS_TESTDEV(obj)->hung_dma;
}

/* The engine starts repeating (or stops) at once. */
static void atd_set_hung_dma(Object *obj, bool value, Error **errp)
{
    ATSTestDevState *s = ATS_TESTDEV(obj);

    s->hung_dma = value;
    if (s->hung_timer) {
        atd_hung_arm(s);
    }
}

static void atd_get_hung_interval(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    visit_type_uint32(v, name, &ATS_TESTDEV(obj)->hung_dma_interval_ms, errp);
}

/* Range-checked: a bad value is refused and changes nothing. */
static void atd_set_hung_interval(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    ATSTestDevState *s = ATS_TESTDEV(obj);
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value < 1 || value > ATD_HUNG_INTERVAL_MAX_MS) {
        error_setg(errp, "hung-dma-interval-ms must be between 1 and %d, "
                   "not %u", ATD_HUNG_INTERVAL_MAX_MS, value);
        return;
    }
    s->hung_dma_interval_ms = value;
}

static void atd_instance_init(Object *obj)
{
    ATSTestDevState *s = ATS_TESTDEV(obj);
    unsigned i;

    /*
     * Knobs: settable on -device and at run time with qom-set. hung-dma
     * has a side effect and hung-dma-interval-ms a range, hence their
     * accessors; the plain booleans are in atd_properties.
     */
    object_property_add_uint32_ptr(obj, "inval-delay-ms", &s->inval_delay_ms,
                                   OBJ_PROP_FLAG_READWRITE);
    object_property_add_bool(obj, "hung-dma", atd_get_hung_dma,
                             atd_set_hung_dma);
    s->hung_dma_interval_ms = 10;
    object_property_add(obj, "hung-dma-interval-ms", "uint32",
                        atd_get_hung_interval, atd_set_hung_interval, NULL,
                        NULL);
    /* Statistics, read-only, also in BAR0. */
    for (i = 0; i < ATD_STAT_COUNT; i++) {
        object_property_add_uint64_ptr(obj, atd_stat_names[i], &s->stats[i],
                                       OBJ_PROP_FLAG_READ);
    }
}

/* ---- Migration ---- */

static bool atd_atc_needed(void *opaque)
{
    ATSTestDevState *s = opaque;

    return atd_atc_entries(s);
}

/* The stream is not trusted: an entry must be a translation we could make */
static int atd_atc_post_load(void *opaque, int version_id)
{
    ATSTestDevState *s = opaque;
    unsigned i;

    for (i = 0; i < s->atc_size; i++) {
        ATSTestDevATCEntry *e = &s->atc[i];

        if (e->valid && ((e->addr_mask & (e->addr_mask + 1)) ||
                         (e->iova & e->addr_mask) ||
                         (e->translated & e->addr_mask) ||
                         !(e->perm & IOMMU_RW) || (e->perm & ~IOMMU_RW))) {
            return -EINVAL;
        }
    }
    return 0;
}

static const VMStateDescription atd_vmstate_atc_entry = {
    .name = TYPE_ATS_TESTDEV "/atc-entry",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(valid, ATSTestDevATCEntry),
        VMSTATE_UINT64(iova, ATSTestDevATCEntry),
        VMSTATE_UINT64(addr_mask, ATSTestDevATCEntry),
        VMSTATE_UINT64(translated, ATSTestDevATCEntry),
        VMSTATE_UINT32(perm, ATSTestDevATCEntry),
        VMSTATE_UINT64(last_use, ATSTestDevATCEntry),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * The cached translations: the guest sees them (ATC_ENTRIES, and a hung
 * engine keeps using them). Both sides must have the same atc-size.
 */
static const VMStateDescription atd_vmstate_atc = {
    .name = TYPE_ATS_TESTDEV "/atc",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = atd_atc_needed,
    .post_load = atd_atc_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_EQUAL(atc_size, ATSTestDevState,
                             "atc-size must be the same on both sides"),
        VMSTATE_STRUCT_VARRAY_POINTER_UINT32(atc, ATSTestDevState, atc_size,
                                             atd_vmstate_atc_entry,
                                             ATSTestDevATCEntry),
        VMSTATE_UINT64(atc_clock, ATSTestDevState),
        VMSTATE_END_OF_LIST()
    },
};

static bool atd_owed_needed(void *opaque)
{
    ATSTestDevState *s = opaque;

    return !QTAILQ_EMPTY(&s->delayed);
}

/*
 * The owed completions keep their due times (the virtual clock migrates);
 * the oldest arms the timer. The stream is not trusted: ITags are 5 bits.
 */
static int atd_owed_post_load(void *opaque, int version_id)
{
    ATSTestDevState *s = opaque;
    ATSTestDevInval *req;

    QTAILQ_FOREACH(req, &s->delayed, next) {
        if (req->itag >= ATD_ITAGS) {
            return -EINVAL;
        }
    }
    req = QTAILQ_FIRST(&s->delayed);
    if (req) {
        timer_mod(s->inval_timer, req->due_ns);
    }
    return 0;
}

static const VMStateDescription atd_vmstate_owed_entry = {
    .name = TYPE_ATS_TESTDEV "/owed-completion",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(iova, ATSTestDevInval),
        VMSTATE_UINT64(addr_mask, ATSTestDevInval),
        VMSTATE_UINT8(itag, ATSTestDevInval),
        VMSTATE_INT64(due_ns, ATSTestDevInval),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * Invalidate Requests received and not answered yet (inval-delay-ms): the
 * IOMMU's side of them migrates too, and waits for the answers.
 */
static const VMStateDescription atd_vmstate_owed = {
    .name = TYPE_ATS_TESTDEV "/owed-completions",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = atd_owed_needed,
    .post_load = atd_owed_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_QTAILQ_V(delayed, ATSTestDevState, 1, atd_vmstate_owed_entry,
                         ATSTestDevInval, next),
        VMSTATE_END_OF_LIST()
    },
};

static bool atd_hung_needed(void *opaque)
{
    ATSTestDevState *s = opaque;

    return s->last_cmd;
}

/* The last command, which a hung engine repeats, and its next run. */
static const VMStateDescription atd_vmstate_hung = {
    .name = TYPE_ATS_TESTDEV "/hung-dma",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = atd_hung_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(last_cmd, ATSTestDevState),
        VMSTATE_UINT64(last_src, ATSTestDevState),
        VMSTATE_UINT64(last_dst, ATSTestDevState),
        VMSTATE_UINT32(last_len, ATSTestDevState),
        VMSTATE_UINT32(last_pattern, ATSTestDevState),
        VMSTATE_TIMER_PTR(hung_timer, ATSTestDevState),
        VMSTATE_END_OF_LIST()
    },
};

static int atd_post_load(void *opaque, int version_id)
{
    ATSTestDevState *s = opaque;

    if (s->hung_dma_interval_ms < 1 ||
        s->hung_dma_interval_ms > ATD_HUNG_INTERVAL_MAX_MS) {
        return -EINVAL;
    }
    return 0;
}

/*
 * The knobs migrate with the rest: they are the state of the function (a
 * hung or slow device stays hung or slow), whatever the destination was
 * started with.
 */
static const VMStateDescription atd_vmstate = {
    .name = TYPE_ATS_TESTDEV,
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = atd_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, ATSTestDevState),
        VMSTATE_UINT32(status, ATSTestDevState),
        VMSTATE_UINT64(src, ATSTestDevState),
        VMSTATE_UINT64(dst, ATSTestDevState),
        VMSTATE_UINT32(len, ATSTestDevState),
        VMSTATE_UINT32(pattern, ATSTestDevState),
        VMSTATE_UINT32(irq_status, ATSTestDevState),
        VMSTATE_UINT32(irq_enable, ATSTestDevState),
        VMSTATE_UINT64(fault_addr, ATSTestDevState),
        VMSTATE_UINT64_ARRAY(stats, ATSTestDevState, ATD_STAT_COUNT),
        VMSTATE_UINT32(inval_delay_ms, ATSTestDevState),
        VMSTATE_BOOL(drop_inval, ATSTestDevState),
        VMSTATE_BOOL(inval_error, ATSTestDevState),
        VMSTATE_BOOL(verify_atc, ATSTestDevState),
        VMSTATE_BOOL(hung_dma, ATSTestDevState),
        VMSTATE_UINT32(hung_dma_interval_ms, ATSTestDevState),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &atd_vmstate_atc,
        &atd_vmstate_owed,
        &atd_vmstate_hung,
        NULL
    },
};

/* Plain knobs: qom-set may change them at run time, as on -device. */
static PropertyInfo atd_prop_bool_runtime;

static const Property atd_properties[] = {
    DEFINE_PROP_UINT32("atc-size", ATSTestDevState, atc_size, 64),
    DEFINE_PROP("drop-inval", ATSTestDevState, drop_inval,
                atd_prop_bool_runtime, bool,
                .set_default = true, .defval.u = false),
    DEFINE_PROP("inval-error", ATSTestDevState, inval_error,
                atd_prop_bool_runtime, bool,
                .set_default = true, .defval.u = false),
    DEFINE_PROP("verify-atc", ATSTestDevState, verify_atc,
                atd_prop_bool_runtime, bool,
                .set_default = true, .defval.u = true),
};

static void atd_class_init(ObjectClass *klass, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = atd_realize;
    k->exit = atd_exit;
    k->config_write = atd_write_config;
    k->vendor_id = PCI_VENDOR_ID_REDHAT;
    k->device_id = PCI_DEVICE_ID_REDHAT_ATS_TESTDEV;
    k->revision = ATS_TESTDEV_REVISION;
    k->class_id = PCI_CLASS_OTHERS;
    dc->desc = "ATS test endpoint with an address translation cache";
    device_class_set_legacy_reset(dc, atd_reset);
    dc->vmsd = &atd_vmstate;
    /* As vfio-pci does for its runtime-mutable property */
    atd_prop_bool_runtime = qdev_prop_bool;
    atd_prop_bool_runtime.realized_set_allowed = true;
    device_class_set_props(dc, atd_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo atd_types[] = {
    {
        .name = TYPE_ATS_TESTDEV,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(ATSTestDevState),
        .instance_init = atd_instance_init,
        .class_init = atd_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_PCIE_DEVICE },
            { },
        },
    },
};

DEFINE_TYPES(atd_types)
