/*
 * Helpers for qtests that drive the ATS test endpoint (ats-testdev)
 *
 * Copyright (c) 2026 ite-lab
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef ATS_TESTDEV_QTEST_H
#define ATS_TESTDEV_QTEST_H

#include "libqtest.h"
#include "libqos/pci.h"
#include "qobject/qbool.h"
#include "qobject/qdict.h"
#include "qobject/qnum.h"
#include "hw/misc/ats-testdev.h"

/* A 32-bit register of the endpoint's BAR0 */
static inline uint32_t atd_readl(QPCIDevice *dev, QPCIBar bar, uint32_t reg)
{
    return qpci_io_readl(dev, bar, reg);
}

static inline void atd_writel(QPCIDevice *dev, QPCIBar bar, uint32_t reg,
                              uint32_t val)
{
    qpci_io_writel(dev, bar, reg, val);
}

/* Statistics counter @idx (ATD_STAT_*) */
static inline uint64_t atd_stat(QPCIDevice *dev, QPCIBar bar, unsigned idx)
{
    return qpci_io_readq(dev, bar, ATD_REG_STATS + 8 * idx);
}

/* Run DMA command @cmd (ATD_CMD_*); returns ATD_REG_STATUS after it */
static inline uint32_t atd_run(QPCIDevice *dev, QPCIBar bar, uint32_t cmd,
                               uint64_t src, uint64_t dst, uint32_t len)
{
    qpci_io_writeq(dev, bar, ATD_REG_SRC, src);
    qpci_io_writeq(dev, bar, ATD_REG_DST, dst);
    qpci_io_writel(dev, bar, ATD_REG_LEN, len);
    qpci_io_writel(dev, bar, ATD_REG_CMD, cmd);
    return qpci_io_readl(dev, bar, ATD_REG_STATUS);
}

/*
 * ATS Enable in the ATS capability, in extended configuration space,
 * written through the function's ECAM window at @ecam_fn (the port I/O
 * configuration mechanism does not reach offsets of 0x100 and above).
 */
static inline void atd_set_ats(QTestState *qts, uint64_t ecam_fn, bool on)
{
    qtest_writew(qts, ecam_fn + ATS_TESTDEV_ATS_OFFSET + 6, on ? 0x8000 : 0);
}

/* qom-set property @prop of the device with id @id to @val (a reference) */
static inline void atd_set(QTestState *qts, const char *id, const char *prop,
                           QObject *val)
{
    g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", id);

    qtest_qmp_assert_success(qts,
        "{'execute': 'qom-set', 'arguments': {"
        " 'path': %s, 'property': %s, 'value': %p}}", path, prop, val);
}

static inline void atd_set_bool(QTestState *qts, const char *id,
                                const char *prop, bool val)
{
    atd_set(qts, id, prop, QOBJECT(qbool_from_bool(val)));
}

static inline void atd_set_uint(QTestState *qts, const char *id,
                                const char *prop, unsigned val)
{
    atd_set(qts, id, prop, QOBJECT(qnum_from_uint(val)));
}

/*
 * Fill the ATC of an endpoint whose ATS is enabled and whose ATC is empty
 * with the two pages at @iova (two Translation Requests)
 */
static inline void atd_fill_two(QPCIDevice *dev, QPCIBar bar, uint64_t iova)
{
    g_assert_cmphex(atd_run(dev, bar, ATD_CMD_COMPARE, iova, iova + 0x1000,
                            16), ==, ATD_ST_OK);
    g_assert_cmpuint(atd_readl(dev, bar, ATD_REG_ATC_ENTRIES), ==, 2);
}

/*
 * Wait for the DEVICE_DELETED event of device @id, skipping the others
 * (those of other devices and those of devices without an id).
 * qtest_qmp_device_del() takes the first DEVICE_DELETED, whichever it is,
 * and sends device_del itself; a surprise removal or a slot powered off
 * by the guest does not.
 */
static inline void wait_device_deleted(QTestState *qts, const char *id)
{
    for (;;) {
        QDict *rsp = qtest_qmp_eventwait_ref(qts, "DEVICE_DELETED");
        QDict *data = qdict_get_qdict(rsp, "data");
        bool match = data && qdict_haskey(data, "device") &&
                     !strcmp(qdict_get_str(data, "device"), id);

        qobject_unref(rsp);
        if (match) {
            return;
        }
    }
}

/* Migrate @src to @dst, started with -incoming @uri; wait until @dst runs */
static inline void migrate_and_wait(QTestState *src, QTestState *dst,
                                    const char *uri)
{
    qtest_qmp_assert_success(src, "{'execute': 'migrate',"
                             " 'arguments': {'uri': %s}}", uri);
    qtest_qmp_eventwait(dst, "RESUME");
}

/*
 * A new empty temporary file for QEMU's log (-D), named after @tmpl (see
 * g_file_open_tmp()); trace_log_remove() removes it.
 */
static inline char *trace_log_new(const char *tmpl)
{
    char *path = NULL;
    int fd = g_file_open_tmp(tmpl, &path, NULL);

    g_assert(fd >= 0);
    close(fd);
    return path;
}

/* The log so far; QEMU's log is line buffered */
static inline char *trace_log_read(const char *path)
{
    char *text = NULL;

    g_assert(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

/* Remove the log @path and free its name; nothing if @path is NULL */
static inline void trace_log_remove(char *path)
{
    if (path) {
        unlink(path);
        g_free(path);
    }
}

#endif
