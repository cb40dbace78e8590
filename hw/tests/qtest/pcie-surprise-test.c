/*
 * QTest for surprise removal and link flaps of a PCIe card, driven over
 * QMP (x-pcie-surprise-remove, x-pcie-link-set), without a guest.
 *
 * q35 with the ATS test endpoint in the hot-plug capable slot of a root
 * port. The test plays the guest's part itself: it numbers the port's
 * buses, opens its memory window, programs the endpoint's BAR, routes the
 * port's hot-plug interrupt (MSI-X) to a word of guest RAM, enables the
 * slot events Linux's pciehp enables (DLLSC and attention button), and
 * acknowledges events and powers the slot off and on as pciehp does.
 *
 * It checks what the slot and the card look like after each step (slot
 * status, link status, interrupt, config and BAR reads), when QEMU frees
 * the card (DEVICE_DELETED), that the slot takes a new card afterwards,
 * that bad requests fail and change nothing, that a device-TLB
 * invalidation outstanding at the removal ends in an Invalidation
 * Time-out Error, and that 50 remove/re-add cycles leave no QOM objects
 * behind. It migrates each state (surprise-removed card, link held down
 * by the monitor, Link Disable, a flap the guest has not power-cycled
 * yet) to a second QEMU and checks that the destination carries on from
 * it; checks that pc-q35-10.2 keeps stock 10.2's registers (SLTCTL.DLLSCE
 * and LNKCTL.LD read-only, no DLLSC); and that a card freed by a reset is
 * not freed from inside the reset (a snapshot loaded over a surprise
 * removal keeps its card; a switch pulled out under intel-iommu is not
 * freed before intel-iommu's reset is done with its buses, which ASan or
 * valgrind would report). It does not look at what a guest driver would
 * do.
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
#include "qobject/qlist.h"
#include "hw/i386/intel_iommu_internal.h"
#include "hw/pci/pci_regs.h"
#include "hw/misc/ats-testdev.h"
#include "ats-testdev-qtest.h"

#define RP_DEVFN        QPCI_DEVFN(2, 0)
#define RP_NOHP_DEVFN   QPCI_DEVFN(3, 0)
#define RP_EMPTY_DEVFN  QPCI_DEVFN(4, 0)
#define SEC_BUS         1
#define DEV_DEVFN       ((SEC_BUS << 8) | QPCI_DEVFN(0, 0))
#define DEV_SID         DEV_DEVFN

#define WINDOW_BASE     0xe1000000u     /* the port's memory window, 16 MiB */
#define WINDOW_LIMIT    0xe1ffffffu
#define DEV_BAR0        WINDOW_BASE

#define MSI_ADDR        0x300000ULL     /* guest RAM: the MSI-X write lands */
#define MSI_DATA        0x5a5au

#define IOMMU_BASE      0xfed90000ULL
#define INV_QUEUE       0x106000ULL     /* 256 descriptors of 16 bytes */
#define WAIT_STATUS     0x107000ULL

#define SLTCTL_PWR_MASK (PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PIC)
#define LOOP_CYCLES     50

typedef struct Env {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *rp;
    QPCIDevice *dev;
    QPCIBar bar;
    uint8_t exp;        /* the port's PCI Express capability */
    uint32_t iq_tail;
} Env;

/* ---- The port's slot, as pciehp sees it ---- */

static uint16_t slt_sta(Env *e)
{
    return qpci_config_readw(e->rp, e->exp + PCI_EXP_SLTSTA);
}

static uint16_t lnk_sta(Env *e)
{
    return qpci_config_readw(e->rp, e->exp + PCI_EXP_LNKSTA);
}

static uint16_t slt_ctl(Env *e)
{
    return qpci_config_readw(e->rp, e->exp + PCI_EXP_SLTCTL);
}

/* The interrupt handler's first step: acknowledge every pending event */
static uint16_t ack_events(Env *e)
{
    uint16_t events = slt_sta(e) & (PCI_EXP_SLTSTA_ABP | PCI_EXP_SLTSTA_PDC |
                                    PCI_EXP_SLTSTA_CC | PCI_EXP_SLTSTA_DLLSC);

    qpci_config_writew(e->rp, e->exp + PCI_EXP_SLTSTA, events);
    return events;
}

/* Did the port send its hot-plug MSI-X since the last call? */
static bool irq_fired(Env *e)
{
    bool fired = qtest_readl(e->qts, MSI_ADDR) == MSI_DATA;

    qtest_writel(e->qts, MSI_ADDR, 0);
    return fired;
}

/* pciehp's power off (PCC, then the power indicator) and power on */
static void slot_power(Env *e, bool on)
{
    uint16_t ctl = slt_ctl(e) & ~SLTCTL_PWR_MASK;

    if (on) {
        qpci_config_writew(e->rp, e->exp + PCI_EXP_SLTCTL,
                           ctl | PCI_EXP_SLTCTL_PWR_ON |
                           PCI_EXP_SLTCTL_PWR_IND_OFF);
        qpci_config_writew(e->rp, e->exp + PCI_EXP_SLTCTL,
                           ctl | PCI_EXP_SLTCTL_PWR_ON |
                           PCI_EXP_SLTCTL_PWR_IND_ON);
    } else {
        qpci_config_writew(e->rp, e->exp + PCI_EXP_SLTCTL,
                           ctl | PCI_EXP_SLTCTL_PWR_OFF |
                           PCI_EXP_SLTCTL_PWR_IND_ON);
        qpci_config_writew(e->rp, e->exp + PCI_EXP_SLTCTL,
                           ctl | PCI_EXP_SLTCTL_PWR_OFF |
                           PCI_EXP_SLTCTL_PWR_IND_OFF);
    }
    ack_events(e);      /* command completed */
}

/* ---- The card ---- */

static uint16_t dev_vendor(Env *e)
{
    return qpci_config_readw(e->dev, PCI_VENDOR_ID);
}

/* What enumeration does for the card: BAR0 and decoding */
static void dev_setup(Env *e)
{
    qpci_config_writel(e->dev, PCI_BASE_ADDRESS_0, DEV_BAR0);
    qpci_config_writew(e->dev, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static uint32_t dev_magic(Env *e)
{
    return qpci_io_readl(e->dev, e->bar, ATD_REG_MAGIC);
}

/* ---- QMP ---- */

static QDict *surprise_remove(Env *e, const char *id)
{
    return qtest_qmp(e->qts, "{'execute': 'x-pcie-surprise-remove',"
                     " 'arguments': {'id': %s}}", id);
}

static QDict *link_set(Env *e, const char *port, bool up)
{
    return qtest_qmp(e->qts, "{'execute': 'x-pcie-link-set',"
                     " 'arguments': {'port': %s, 'up': %i}}", port, up);
}

static void assert_ok(QDict *rsp)
{
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
}

/* The command failed with @class and a description containing @desc */
static void assert_error(QDict *rsp, const char *class, const char *desc)
{
    QDict *err = qdict_get_qdict(rsp, "error");

    g_assert(err);
    g_assert_cmpstr(qdict_get_str(err, "class"), ==, class);
    if (!strstr(qdict_get_str(err, "desc"), desc)) {
        g_test_message("error: %s", qdict_get_str(err, "desc"));
        g_assert_not_reached();
    }
    qobject_unref(rsp);
}

static bool device_exists(Env *e, const char *id)
{
    g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", id);
    QDict *rsp = qtest_qmp(e->qts, "{'execute': 'qom-get', 'arguments':"
                           " {'path': %s, 'property': 'type'}}", path);
    bool exists = qdict_haskey(rsp, "return");

    qobject_unref(rsp);
    return exists;
}

static size_t qom_children(Env *e, const char *path)
{
    QDict *rsp = qtest_qmp(e->qts, "{'execute': 'qom-list', 'arguments':"
                           " {'path': %s}}", path);
    size_t n = qlist_size(qdict_get_qlist(rsp, "return"));

    qobject_unref(rsp);
    return n;
}

/* ---- Set-up: what firmware and pciehp would have done ---- */

static void rp_setup(Env *e)
{
    QPCIDevice *rp = e->rp;
    uint16_t ctl;

    qpci_device_enable(rp);
    qpci_config_writeb(rp, PCI_PRIMARY_BUS, 0);
    qpci_config_writeb(rp, PCI_SECONDARY_BUS, SEC_BUS);
    qpci_config_writeb(rp, PCI_SUBORDINATE_BUS, SEC_BUS);
    qpci_config_writew(rp, PCI_MEMORY_BASE, (WINDOW_BASE >> 16) & 0xfff0);
    qpci_config_writew(rp, PCI_MEMORY_LIMIT, (WINDOW_LIMIT >> 16) & 0xfff0);

    qpci_msix_enable(rp);
    qpci_io_writel(rp, rp->msix_table_bar,
                   rp->msix_table_off + PCI_MSIX_ENTRY_LOWER_ADDR, MSI_ADDR);
    qpci_io_writel(rp, rp->msix_table_bar,
                   rp->msix_table_off + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
    qpci_io_writel(rp, rp->msix_table_bar,
                   rp->msix_table_off + PCI_MSIX_ENTRY_DATA, MSI_DATA);
    qpci_io_writel(rp, rp->msix_table_bar,
                   rp->msix_table_off + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);

    e->exp = qpci_find_capability(rp, PCI_CAP_ID_EXP, 0);
    g_assert(e->exp);
    ctl = slt_ctl(e);
    qpci_config_writew(rp, e->exp + PCI_EXP_SLTCTL,
                       ctl | PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_DLLSCE |
                       PCI_EXP_SLTCTL_ABPE);
    ack_events(e);
    irq_fired(e);
}

/*
 * Start QEMU with @machine (NULL: q35, the newest); @extra: more command
 * line, e.g. a vIOMMU or -incoming. Nothing is set up yet.
 */
static Env *env_launch(const char *machine, const char *extra)
{
    Env *e = g_new0(Env, 1);

    e->qts = qtest_initf("-M %s -nodefaults %s "
                         "-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support"
                         "=off "
                         "-device pcie-root-port,id=rp0,slot=1,addr=0x2 "
                         "-device ats-testdev,bus=rp0,id=dev0 "
                         "-device pcie-root-port,id=rp1,slot=2,addr=0x3,"
                         "hotplug=off "
                         "-device ats-testdev,bus=rp1,id=dev1 "
                         "-device pcie-root-port,id=rp2,slot=3,addr=0x4",
                         machine ? machine : "q35", extra ? extra : "");
    e->bus = qpci_new_pc(e->qts, NULL);
    e->rp = qpci_device_find(e->bus, RP_DEVFN);
    g_assert(e->rp);
    e->exp = qpci_find_capability(e->rp, PCI_CAP_ID_EXP, 0);
    g_assert(e->exp);
    /* the card, even when it cannot be reached (qpci_device_find fails) */
    e->dev = g_new0(QPCIDevice, 1);
    e->dev->bus = e->bus;
    e->dev->devfn = DEV_DEVFN;
    e->bar.addr = DEV_BAR0;
    e->bar.is_io = false;
    return e;
}

static Env *env_start_machine(const char *machine, const char *extra)
{
    Env *e = env_launch(machine, extra);

    rp_setup(e);
    dev_setup(e);
    g_assert_cmphex(dev_magic(e), ==, ATS_TESTDEV_MAGIC);
    return e;
}

static Env *env_start(const char *extra)
{
    return env_start_machine(NULL, extra);
}

static void env_stop(Env *e)
{
    if (!e) {
        return;
    }
    g_free(e->dev);
    g_free(e->rp);
    qpci_free_pc(e->bus);
    qtest_quit(e->qts);
    g_free(e);
}

/* A card in the slot with its link up, as at boot */
static void assert_slot_up(Env *e)
{
    g_assert_cmphex(slt_sta(e) & PCI_EXP_SLTSTA_PDS, ==, PCI_EXP_SLTSTA_PDS);
    g_assert_cmphex(lnk_sta(e) & PCI_EXP_LNKSTA_DLLLA, ==,
                    PCI_EXP_LNKSTA_DLLLA);
}

/* Every access to the card completes with all-ones */
static void assert_unreachable(Env *e)
{
    g_assert_cmphex(dev_vendor(e), ==, 0xffff);
    g_assert_cmphex(qpci_config_readl(e->dev, PCI_COMMAND), ==, 0xffffffff);
    qpci_config_writew(e->dev, PCI_COMMAND, PCI_COMMAND_MEMORY);
    g_assert_cmphex(qpci_config_readl(e->dev, PCI_COMMAND), ==, 0xffffffff);
    g_assert_cmphex(dev_magic(e), ==, 0xffffffff);
    g_assert_cmphex(qpci_io_readq(e->dev, e->bar, ATD_REG_STATS), ==,
                    UINT64_MAX);
    g_assert_cmphex(qpci_io_readb(e->dev, e->bar, ATD_REG_VERSION), ==, 0xff);
    qpci_io_writel(e->dev, e->bar, ATD_REG_IRQ_ENABLE, 1);
    g_assert_cmphex(qpci_io_readl(e->dev, e->bar, ATD_REG_IRQ_ENABLE), ==,
                    0xffffffff);
}

/* ---- Surprise removal ---- */

static void test_surprise_remove(void)
{
    Env *e = env_start(NULL);

    assert_slot_up(e);
    assert_ok(surprise_remove(e, "dev0"));

    /* Link down and card absent at once, with the slot's interrupt */
    g_assert_cmphex(slt_sta(e) & (PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_PDC |
                                  PCI_EXP_SLTSTA_DLLSC), ==,
                    PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
    g_assert_cmphex(lnk_sta(e) & PCI_EXP_LNKSTA_DLLLA, ==, 0);
    g_assert(irq_fired(e));
    assert_unreachable(e);

    /* QEMU keeps the device until the guest is done with it */
    g_assert(device_exists(e, "dev0"));
    g_assert_cmphex(ack_events(e), ==,
                    PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
    g_assert(!irq_fired(e));
    assert_unreachable(e);
    g_assert(device_exists(e, "dev0"));
    env_stop(e);
}

/* Bad requests fail with a reason and change nothing */
static void test_bad_requests(void)
{
    Env *e = env_start(NULL);
    uint16_t sta = slt_sta(e);

    assert_error(surprise_remove(e, "nosuch"), "GenericError",
                 "Device 'nosuch' not found");
    assert_error(surprise_remove(e, "/machine"), "GenericError",
                 "is not a PCI device");
    /* on the root bus */
    assert_error(surprise_remove(e, "rp0"), "GenericError",
                 "is not in a slot of a PCI Express root or downstream port");
    /* in a slot with hotplug=off */
    assert_error(surprise_remove(e, "dev1"), "GenericError",
                 "The slot of port 'rp1' is not hot-plug capable");

    assert_error(link_set(e, "nosuch", false), "GenericError",
                 "not found");
    assert_error(link_set(e, "dev0", false), "GenericError",
                 "is not a PCI Express root or downstream port with a slot");
    assert_error(link_set(e, "rp1", false), "GenericError",
                 "is not hot-plug capable");
    assert_error(link_set(e, "rp2", false), "GenericError", "is empty");
    assert_error(link_set(e, "rp0", true), "GenericError",
                 "is not held down");
    g_assert_cmphex(slt_sta(e), ==, sta);
    assert_slot_up(e);
    g_assert_cmphex(dev_vendor(e), ==, ATS_TESTDEV_VENDOR_ID);
    g_assert(!irq_fired(e));

    assert_ok(link_set(e, "rp0", false));
    assert_error(link_set(e, "rp0", false), "GenericError",
                 "is already held down");
    assert_ok(link_set(e, "rp0", true));

    assert_ok(surprise_remove(e, "dev0"));
    sta = slt_sta(e);
    assert_error(surprise_remove(e, "dev0"), "GenericError",
                 "was already surprise-removed");
    assert_error(link_set(e, "rp0", true), "GenericError", "is empty");
    assert_error(link_set(e, "rp0", false), "GenericError", "is empty");
    /* the slot takes no new card before the old one is freed */
    assert_error(qtest_qmp(e->qts, "{'execute': 'device_add', 'arguments':"
                           " {'driver': 'ats-testdev', 'bus': 'rp0',"
                           " 'addr': '0.1', 'id': 'dev2'}}"),
                 "GenericError", "surprise-removed card");
    g_assert_cmphex(slt_sta(e), ==, sta);
    env_stop(e);
}

/* q35's default ACPI hot-plug: the slot does not handle hot-plug */
static void test_acpi_hotplug(void)
{
    QTestState *qts = qtest_init("-M q35 -nodefaults "
                                 "-device pcie-root-port,id=rp0,slot=1 "
                                 "-device ats-testdev,bus=rp0,id=dev0");
    Env e = { .qts = qts };

    assert_error(surprise_remove(&e, "dev0"), "GenericError",
                 "uses ACPI hot-plug, not native PCI Express hot-plug");
    assert_error(link_set(&e, "rp0", false), "GenericError",
                 "uses ACPI hot-plug, not native PCI Express hot-plug");
    qtest_quit(qts);
}

/* A new card in the freed slot: hot-plug as usual, then powered on */
static void plug_again(Env *e)
{
    qtest_qmp_device_add(e->qts, "ats-testdev", "dev0", "{'bus': 'rp0'}");
    assert_slot_up(e);
    g_assert_cmphex(ack_events(e) & (PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_ABP),
                    ==, PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_ABP);
    slot_power(e, true);
    g_assert_cmphex(dev_vendor(e), ==, ATS_TESTDEV_VENDOR_ID);
    dev_setup(e);
    g_assert_cmphex(dev_magic(e), ==, ATS_TESTDEV_MAGIC);
}

/* pciehp's answer: unbind, power the slot off; then QEMU frees the card */
static void test_power_off_frees(void)
{
    Env *e = env_start(NULL);

    assert_ok(surprise_remove(e, "dev0"));
    ack_events(e);
    slot_power(e, false);
    wait_device_deleted(e->qts, "dev0");
    g_assert(!device_exists(e, "dev0"));
    g_assert_cmphex(slt_sta(e) & PCI_EXP_SLTSTA_PDS, ==, 0);

    plug_again(e);
    env_stop(e);
}

/* A guest that never reacts: system reset frees the card */
static void test_reset_frees(void)
{
    Env *e = env_start(NULL);

    assert_ok(surprise_remove(e, "dev0"));
    qtest_system_reset(e->qts);
    wait_device_deleted(e->qts, "dev0");
    g_assert(!device_exists(e, "dev0"));
    g_assert_cmphex(slt_sta(e) & PCI_EXP_SLTSTA_PDS, ==, 0);

    /* firmware again, then hot-plug into the same slot */
    rp_setup(e);
    plug_again(e);
    env_stop(e);
}

/* ... and so does device_del, without a round trip to the guest */
static void test_device_del_frees(void)
{
    Env *e = env_start(NULL);

    assert_ok(surprise_remove(e, "dev0"));
    qtest_qmp_device_del_send(e->qts, "dev0");
    wait_device_deleted(e->qts, "dev0");
    g_assert(!device_exists(e, "dev0"));
    plug_again(e);
    env_stop(e);
}

/* A slot that the guest already powered off is freed at once */
static void test_powered_off_slot(void)
{
    Env *e = env_start(NULL);

    assert_ok(link_set(e, "rp0", false));
    ack_events(e);
    slot_power(e, false);
    g_assert(device_exists(e, "dev0"));
    assert_ok(surprise_remove(e, "dev0"));
    wait_device_deleted(e->qts, "dev0");
    g_assert_cmphex(slt_sta(e) & PCI_EXP_SLTSTA_PDS, ==, 0);
    env_stop(e);
}

/* ---- Link flap ---- */

static void assert_link_down(Env *e)
{
    g_assert_cmphex(slt_sta(e) & (PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_PDC |
                                  PCI_EXP_SLTSTA_DLLSC), ==,
                    PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_DLLSC);
    g_assert_cmphex(lnk_sta(e) & PCI_EXP_LNKSTA_DLLLA, ==, 0);
    g_assert(irq_fired(e));
    g_assert_cmphex(ack_events(e), ==, PCI_EXP_SLTSTA_DLLSC);
}

static void assert_link_back(Env *e)
{
    g_assert_cmphex(slt_sta(e) & (PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_PDC |
                                  PCI_EXP_SLTSTA_DLLSC), ==,
                    PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_DLLSC);
    g_assert_cmphex(lnk_sta(e) & PCI_EXP_LNKSTA_DLLLA, ==,
                    PCI_EXP_LNKSTA_DLLLA);
    g_assert(irq_fired(e));
    g_assert_cmphex(ack_events(e), ==, PCI_EXP_SLTSTA_DLLSC);
}

/*
 * pciehp's handling of a link flap: "Link Down", unbind, power off;
 * "Card present", power on, no link, power off again; "Link Up", power
 * on, enumerate the same card.
 */
static void test_link_flap(void)
{
    Env *e = env_start(NULL);

    assert_ok(link_set(e, "rp0", false));
    assert_link_down(e);
    assert_unreachable(e);

    slot_power(e, false);
    g_assert(device_exists(e, "dev0"));
    slot_power(e, true);
    assert_unreachable(e);
    slot_power(e, false);
    g_assert(device_exists(e, "dev0"));

    assert_ok(link_set(e, "rp0", true));
    assert_link_back(e);
    /* the slot is still powered off */
    g_assert_cmphex(dev_vendor(e), ==, 0xffff);
    slot_power(e, true);
    g_assert_cmphex(dev_vendor(e), ==, ATS_TESTDEV_VENDOR_ID);
    /* it was reset: enumerate it again */
    g_assert_cmphex(qpci_config_readl(e->dev, PCI_BASE_ADDRESS_0), ==, 0);
    dev_setup(e);
    g_assert_cmphex(dev_magic(e), ==, ATS_TESTDEV_MAGIC);

    /* the flap is over: a guest power-off unplugs the card again */
    slot_power(e, false);
    wait_device_deleted(e->qts, "dev0");
    env_stop(e);
}

/* Down and up before the guest noticed: it still power-cycles the slot */
static void test_link_flap_fast(void)
{
    Env *e = env_start(NULL);

    assert_ok(link_set(e, "rp0", false));
    assert_ok(link_set(e, "rp0", true));
    assert_slot_up(e);
    g_assert(irq_fired(e));
    g_assert_cmphex(ack_events(e), ==, PCI_EXP_SLTSTA_DLLSC);
    g_assert_cmphex(dev_vendor(e), ==, ATS_TESTDEV_VENDOR_ID);

    slot_power(e, false);
    g_assert(device_exists(e, "dev0"));
    slot_power(e, true);
    g_assert_cmphex(dev_vendor(e), ==, ATS_TESTDEV_VENDOR_ID);
    env_stop(e);
}

/* The guest's own Link Disable (setpci) takes the link down and up */
static void test_link_disable(void)
{
    Env *e = env_start(NULL);
    uint16_t lnkctl = qpci_config_readw(e->rp, e->exp + PCI_EXP_LNKCTL);

    qpci_config_writew(e->rp, e->exp + PCI_EXP_LNKCTL,
                       lnkctl | PCI_EXP_LNKCTL_LD);
    assert_link_down(e);
    assert_unreachable(e);
    slot_power(e, false);
    g_assert(device_exists(e, "dev0"));

    qpci_config_writew(e->rp, e->exp + PCI_EXP_LNKCTL, lnkctl);
    assert_link_back(e);
    slot_power(e, true);
    g_assert_cmphex(dev_vendor(e), ==, ATS_TESTDEV_VENDOR_ID);
    env_stop(e);
}

/* An orderly device_del: attention button, guest powers off, unplug */
static void test_device_del(void)
{
    Env *e = env_start(NULL);

    qtest_qmp_device_del_send(e->qts, "dev0");
    g_assert(irq_fired(e));
    g_assert_cmphex(ack_events(e), ==, PCI_EXP_SLTSTA_ABP);
    slot_power(e, false);
    wait_device_deleted(e->qts, "dev0");
    plug_again(e);
    env_stop(e);
}

/* ... and one asked for while the link is down: the power-off unplugs */
static void test_device_del_link_down(void)
{
    Env *e = env_start(NULL);

    assert_ok(link_set(e, "rp0", false));
    assert_link_down(e);
    qtest_qmp_device_del_send(e->qts, "dev0");
    g_assert(irq_fired(e));
    g_assert_cmphex(ack_events(e), ==, PCI_EXP_SLTSTA_ABP);
    slot_power(e, false);
    wait_device_deleted(e->qts, "dev0");
    g_assert(!device_exists(e, "dev0"));

    /* the slot forgot the link state with the card */
    qtest_qmp_device_add(e->qts, "ats-testdev", "dev0", "{'bus': 'rp0'}");
    assert_slot_up(e);
    env_stop(e);
}

/* ---- Outstanding device-TLB invalidation at the removal ---- */

static void iq_submit(Env *e, uint64_t lo, uint64_t hi)
{
    qtest_writeq(e->qts, INV_QUEUE + e->iq_tail * 16, lo);
    qtest_writeq(e->qts, INV_QUEUE + e->iq_tail * 16 + 8, hi);
    e->iq_tail = (e->iq_tail + 1) % 256;
    qtest_writeq(e->qts, IOMMU_BASE + DMAR_IQT_REG, (uint64_t)e->iq_tail << 4);
}

static uint32_t submit_inv_and_wait(Env *e)
{
    uint32_t token = 0x1234 + e->iq_tail;

    iq_submit(e, VTD_INV_DESC_DEVICE | ((uint64_t)DEV_SID << 32), 0);
    qtest_writel(e->qts, WAIT_STATUS, 0);
    iq_submit(e, VTD_INV_DESC_WAIT | VTD_INV_DESC_WAIT_SW |
                 ((uint64_t)token << VTD_INV_DESC_WAIT_DATA_SHIFT),
              WAIT_STATUS);
    return token;
}

static uint32_t fsts(Env *e)
{
    return qtest_readl(e->qts, IOMMU_BASE + DMAR_FSTS_REG);
}

static uint64_t inval_received(Env *e)
{
    QDict *rsp = qtest_qmp(e->qts, "{'execute': 'qom-get', 'arguments':"
                           " {'path': '/machine/peripheral/dev0',"
                           " 'property': 'inval-received'}}");
    uint64_t n = qdict_get_int(rsp, "return");

    qobject_unref(rsp);
    return n;
}

static void step_ms(Env *e, unsigned ms)
{
    qtest_clock_step(e->qts, ms * 1000 * 1000LL);
}

/*
 * The card would answer 50 ms after the request, but is pulled out
 * before: the request never completes, the wait is aborted and the IOMMU
 * reports ITE with the card's source-id after devtlb-timeout-ms (100).
 * Requests sent after the removal reach nobody and time out as well.
 */
static void test_inval_outstanding(void)
{
    Env *e = env_start("-device intel-iommu,device-iotlb=on");
    uint32_t token;
    uint32_t cmd;

    qtest_writeq(e->qts, IOMMU_BASE + DMAR_IQA_REG, INV_QUEUE);
    cmd = VTD_GCMD_QIE;
    qtest_writel(e->qts, IOMMU_BASE + DMAR_GCMD_REG, cmd);
    g_assert(qtest_readl(e->qts, IOMMU_BASE + DMAR_GSTS_REG) & VTD_GSTS_QIES);

    qtest_qmp_assert_success(e->qts, "{'execute': 'qom-set', 'arguments':"
                             " {'path': '/machine/peripheral/dev0',"
                             " 'property': 'inval-delay-ms', 'value': 50}}");
    token = submit_inv_and_wait(e);
    g_assert_cmpuint(inval_received(e), ==, 1);
    g_assert_cmphex(qtest_readl(e->qts, WAIT_STATUS), ==, 0);

    assert_ok(surprise_remove(e, "dev0"));
    step_ms(e, 60);
    g_assert_cmphex(qtest_readl(e->qts, WAIT_STATUS), ==, 0);
    g_assert_cmphex(fsts(e), ==, 0);
    step_ms(e, 41);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmphex(qtest_readq(e->qts, IOMMU_BASE + DMAR_IQER_REG) &
                    VTD_IQER_ITESID_MASK, ==, VTD_IQER_ITESID(DEV_SID));
    g_assert_cmphex(qtest_readl(e->qts, WAIT_STATUS), !=, token);

    /* After the removal: nothing reaches the card, ITE again */
    qtest_writel(e->qts, IOMMU_BASE + DMAR_FSTS_REG, VTD_FSTS_ITE);
    token = submit_inv_and_wait(e);
    step_ms(e, 101);
    g_assert_cmphex(fsts(e), ==, VTD_FSTS_ITE);
    g_assert_cmphex(qtest_readl(e->qts, WAIT_STATUS), !=, token);
    g_assert_cmpuint(inval_received(e), ==, 0);     /* reset at removal */
    env_stop(e);
}

/* ---- Repetition ---- */

static void test_loop(void)
{
    static const char *const containers[] = {
        "/machine/peripheral", "/machine/peripheral-anon",
        "/machine/unattached", "/machine/peripheral/rp0",
        "/machine/peripheral/rp0/rp0",
    };
    size_t before[ARRAY_SIZE(containers)];
    Env *e = env_start(NULL);
    int i;

    for (i = 0; i < ARRAY_SIZE(containers); i++) {
        before[i] = qom_children(e, containers[i]);
    }
    for (i = 0; i < LOOP_CYCLES; i++) {
        assert_ok(surprise_remove(e, "dev0"));
        g_assert_cmphex(dev_vendor(e), ==, 0xffff);
        ack_events(e);
        slot_power(e, false);
        wait_device_deleted(e->qts, "dev0");
        plug_again(e);
    }
    for (i = 0; i < ARRAY_SIZE(containers); i++) {
        g_assert_cmpuint(qom_children(e, containers[i]), ==, before[i]);
    }
    env_stop(e);
}

/* ---- Machine-type compat ---- */

static uint16_t lnk_ctl(Env *e)
{
    return qpci_config_readw(e->rp, e->exp + PCI_EXP_LNKCTL);
}

/*
 * pc-q35-10.2 (x-pcie-slot-dllsc=off, x-pcie-link-disable=off): the
 * registers of stock 10.2, so that its guests migrate to 10.2. SLTCTL.DLLSCE
 * and LNKCTL.LD are read-only and no DLLSC is raised; the QMP commands
 * still work (the link shows in DLLLA, the removal in PDS and PDC).
 */
static void test_compat_10_2(void)
{
    Env *e = env_start_machine("pc-q35-10.2", NULL);

    /* rp_setup() asked for HPIE | DLLSCE | ABPE */
    g_assert_cmphex(slt_ctl(e) & (PCI_EXP_SLTCTL_HPIE |
                                  PCI_EXP_SLTCTL_DLLSCE |
                                  PCI_EXP_SLTCTL_ABPE), ==,
                    PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_ABPE);
    qpci_config_writew(e->rp, e->exp + PCI_EXP_LNKCTL,
                       lnk_ctl(e) | PCI_EXP_LNKCTL_LD);
    g_assert_cmphex(lnk_ctl(e) & PCI_EXP_LNKCTL_LD, ==, 0);
    assert_slot_up(e);
    g_assert_cmphex(dev_vendor(e), ==, ATS_TESTDEV_VENDOR_ID);
    g_assert(!irq_fired(e));

    assert_ok(link_set(e, "rp0", false));
    g_assert_cmphex(lnk_sta(e) & PCI_EXP_LNKSTA_DLLLA, ==, 0);
    g_assert_cmphex(slt_sta(e) & PCI_EXP_SLTSTA_DLLSC, ==, 0);
    g_assert(!irq_fired(e));
    assert_unreachable(e);
    assert_ok(link_set(e, "rp0", true));
    assert_slot_up(e);
    g_assert_cmphex(slt_sta(e) & PCI_EXP_SLTSTA_DLLSC, ==, 0);

    assert_ok(surprise_remove(e, "dev0"));
    g_assert_cmphex(slt_sta(e) & (PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_PDC |
                                  PCI_EXP_SLTSTA_DLLSC), ==,
                    PCI_EXP_SLTSTA_PDC);
    env_stop(e);
}

/* ... and the newest machine type has both bits writable */
static void test_compat_latest(void)
{
    Env *e = env_start(NULL);

    g_assert_cmphex(slt_ctl(e) & PCI_EXP_SLTCTL_DLLSCE, ==,
                    PCI_EXP_SLTCTL_DLLSCE);
    qpci_config_writew(e->rp, e->exp + PCI_EXP_LNKCTL,
                       lnk_ctl(e) | PCI_EXP_LNKCTL_LD);
    g_assert_cmphex(lnk_ctl(e) & PCI_EXP_LNKCTL_LD, ==, PCI_EXP_LNKCTL_LD);
    assert_link_down(e);
    env_stop(e);
}

/* ---- Migration ---- */

/*
 * Migrate @src to a new QEMU and return it; @src is gone. Nothing of the
 * slot's state is set up again on the destination: it comes with the
 * migration (the port's MSI-X table, guest RAM, the card's BAR).
 */
static Env *env_migrate(Env *src)
{
    g_autofree char *sock = g_strdup_printf("%s/pcie-surprise-test-%d.sock",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *incoming = g_strdup_printf("-incoming %s", uri);
    Env *d = env_launch(NULL, incoming);
    QDict *rsp;

    rsp = qtest_qmp(src->qts, "{'execute': 'migrate',"
                    " 'arguments': {'uri': %s}}", uri);
    if (!qdict_haskey(rsp, "return")) {
        g_test_message("migrate: %s", qdict_get_str(
                           qdict_get_qdict(rsp, "error"), "desc"));
        g_assert_not_reached();
    }
    qobject_unref(rsp);
    qtest_qmp_eventwait(d->qts, "RESUME");
    unlink(sock);
    env_stop(src);
    return d;
}

/* No DEVICE_DELETED of @id arrived (so far) */
static void assert_not_deleted(Env *e, const char *id)
{
    QDict *ev;

    g_assert(device_exists(e, id));
    while ((ev = qtest_qmp_event_ref(e->qts, "DEVICE_DELETED"))) {
        QDict *data = qdict_get_qdict(ev, "data");

        g_assert(!data || !qdict_haskey(data, "device") ||
                 strcmp(qdict_get_str(data, "device"), id));
        qobject_unref(ev);
    }
}

/*
 * The guest set Link Disable and powered the slot off: a guest's own
 * doing must not block its migration. On the destination the link is
 * still disabled and the card kept; clearing LD brings it back.
 */
static void test_migrate_link_disable(void)
{
    Env *e = env_start(NULL);

    qpci_config_writew(e->rp, e->exp + PCI_EXP_LNKCTL,
                       lnk_ctl(e) | PCI_EXP_LNKCTL_LD);
    assert_link_down(e);
    slot_power(e, false);
    g_assert(device_exists(e, "dev0"));

    e = env_migrate(e);
    g_assert_cmphex(lnk_ctl(e) & PCI_EXP_LNKCTL_LD, ==, PCI_EXP_LNKCTL_LD);
    g_assert_cmphex(slt_sta(e) & PCI_EXP_SLTSTA_PDS, ==, PCI_EXP_SLTSTA_PDS);
    g_assert_cmphex(lnk_sta(e) & PCI_EXP_LNKSTA_DLLLA, ==, 0);
    assert_unreachable(e);
    /* pciehp's "Card present": power on, no link, power off: card kept */
    slot_power(e, true);
    assert_unreachable(e);
    slot_power(e, false);
    assert_not_deleted(e, "dev0");

    qpci_config_writew(e->rp, e->exp + PCI_EXP_LNKCTL,
                       lnk_ctl(e) & ~PCI_EXP_LNKCTL_LD);
    assert_link_back(e);
    slot_power(e, true);
    g_assert_cmphex(dev_vendor(e), ==, ATS_TESTDEV_VENDOR_ID);
    dev_setup(e);
    g_assert_cmphex(dev_magic(e), ==, ATS_TESTDEV_MAGIC);
    env_stop(e);
}

/*
 * A flap the guest has not handled yet (LD set and cleared, the slot
 * still powered on): nothing in config space says so, only keep_card.
 * On the destination the guest's power-off in answer to the DLLSC must
 * still keep the card, and the power-on end the flap.
 */
static void test_migrate_link_back(void)
{
    Env *e = env_start(NULL);
    uint16_t lnkctl = lnk_ctl(e);

    qpci_config_writew(e->rp, e->exp + PCI_EXP_LNKCTL,
                       lnkctl | PCI_EXP_LNKCTL_LD);
    qpci_config_writew(e->rp, e->exp + PCI_EXP_LNKCTL, lnkctl);
    assert_slot_up(e);

    e = env_migrate(e);
    assert_slot_up(e);
    g_assert_cmphex(ack_events(e), ==, PCI_EXP_SLTSTA_DLLSC);
    slot_power(e, false);
    assert_not_deleted(e, "dev0");
    slot_power(e, true);
    g_assert_cmphex(dev_vendor(e), ==, ATS_TESTDEV_VENDOR_ID);
    /* the flap is over: a power-off unplugs the card as usual */
    slot_power(e, false);
    wait_device_deleted(e->qts, "dev0");
    env_stop(e);
}

/*
 * A surprise-removed card the guest has not released: the destination
 * keeps it, unreachable, and frees it when the guest powers the slot off.
 */
static void test_migrate_surprise_removed(void)
{
    Env *e = env_start(NULL);

    assert_ok(surprise_remove(e, "dev0"));
    g_assert(irq_fired(e));

    e = env_migrate(e);
    g_assert_cmphex(slt_sta(e) & (PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_PDC),
                    ==, PCI_EXP_SLTSTA_PDC);
    g_assert_cmphex(lnk_sta(e) & PCI_EXP_LNKSTA_DLLLA, ==, 0);
    assert_unreachable(e);
    assert_not_deleted(e, "dev0");
    assert_error(surprise_remove(e, "dev0"), "GenericError",
                 "was already surprise-removed");
    ack_events(e);
    slot_power(e, false);
    wait_device_deleted(e->qts, "dev0");
    g_assert_cmphex(slt_sta(e) & PCI_EXP_SLTSTA_PDS, ==, 0);
    plug_again(e);
    env_stop(e);
}

/* A link the monitor holds down stays down until it lets it up */
static void test_migrate_link_held(void)
{
    Env *e = env_start(NULL);

    assert_ok(link_set(e, "rp0", false));
    assert_link_down(e);

    e = env_migrate(e);
    g_assert_cmphex(lnk_sta(e) & PCI_EXP_LNKSTA_DLLLA, ==, 0);
    assert_unreachable(e);
    assert_error(link_set(e, "rp0", false), "GenericError",
                 "is already held down");
    assert_ok(link_set(e, "rp0", true));
    assert_link_back(e);
    g_assert_cmphex(dev_vendor(e), ==, ATS_TESTDEV_VENDOR_ID);
    env_stop(e);
}

/* ---- A card freed by a reset, and a snapshot loaded over it ---- */

/* Wait for the job @id that @rsp started to end; it must not fail */
static void wait_job(Env *e, const char *id, QDict *rsp)
{
    assert_ok(rsp);
    for (;;) {
        QDict *jobs = qtest_qmp(e->qts, "{'execute': 'query-jobs'}");
        QList *list = qdict_get_qlist(jobs, "return");
        QListEntry *entry;
        bool done = false;

        QLIST_FOREACH_ENTRY(list, entry) {
            QDict *job = qobject_to(QDict, qlist_entry_obj(entry));

            if (strcmp(qdict_get_str(job, "id"), id) ||
                strcmp(qdict_get_str(job, "status"), "concluded")) {
                continue;
            }
            if (qdict_haskey(job, "error")) {
                g_test_message("job %s: %s", id,
                               qdict_get_str(job, "error"));
                g_assert_not_reached();
            }
            done = true;
        }
        qobject_unref(jobs);
        if (done) {
            break;
        }
        g_usleep(10 * 1000);
    }
    qtest_qmp_assert_success(e->qts, "{'execute': 'job-dismiss',"
                             " 'arguments': {'id': %s}}", id);
}

/*
 * Loading a snapshot resets the machine, then loads the devices' state.
 * A surprise-removed card that its port's reset freed on the spot would
 * be missing when the snapshot's state of it is loaded, and the load
 * fails. The card may go only after the reset, and only if the loaded
 * state still says it was removed.
 */
static void test_reset_snapshot_load(void)
{
    g_autofree char *img = g_strdup_printf("%s/pcie-surprise-test-%d.qcow2",
                                           g_get_tmp_dir(), getpid());
    Env *e = env_start(NULL);

    wait_job(e, "c0", qtest_qmp(e->qts, "{'execute': 'blockdev-create',"
                                " 'arguments': {'job-id': 'c0', 'options':"
                                " {'driver': 'file', 'filename': %s,"
                                " 'size': 0}}}", img));
    qtest_qmp_assert_success(e->qts, "{'execute': 'blockdev-add', 'arguments':"
                             " {'driver': 'file', 'filename': %s,"
                             " 'node-name': 'f0'}}", img);
    wait_job(e, "c1", qtest_qmp(e->qts, "{'execute': 'blockdev-create',"
                                " 'arguments': {'job-id': 'c1', 'options':"
                                " {'driver': 'qcow2', 'file': 'f0',"
                                " 'size': 67108864}}}"));
    qtest_qmp_assert_success(e->qts, "{'execute': 'blockdev-add', 'arguments':"
                             " {'driver': 'qcow2', 'file': 'f0',"
                             " 'node-name': 'disk0'}}");

    wait_job(e, "s0", qtest_qmp(e->qts, "{'execute': 'snapshot-save',"
                                " 'arguments': {'job-id': 's0',"
                                " 'tag': 'before', 'vmstate': 'disk0',"
                                " 'devices': ['disk0']}}"));
    assert_ok(surprise_remove(e, "dev0"));
    assert_unreachable(e);

    wait_job(e, "l0", qtest_qmp(e->qts, "{'execute': 'snapshot-load',"
                                " 'arguments': {'job-id': 'l0',"
                                " 'tag': 'before', 'vmstate': 'disk0',"
                                " 'devices': ['disk0']}}"));
    unlink(img);
    assert_slot_up(e);
    g_assert_cmphex(dev_magic(e), ==, ATS_TESTDEV_MAGIC);
    /* and it stays: nothing frees it after the reset */
    assert_not_deleted(e, "dev0");
    assert_ok(surprise_remove(e, "dev0"));
    env_stop(e);
}

/*
 * A switch (upstream port, downstream port, endpoint) pulled out of a
 * root port, with intel-iommu, and a system reset: the reset empties the
 * slot, and the switch is freed after it. Freed from the root port's
 * reset hold phase, it was gone when intel-iommu's reset exit phase, in
 * the same reset, went through the address spaces of the switch's buses:
 * a use after free, which fails this test under ASan or valgrind
 * (QTEST_QEMU_BINARY="valgrind --error-exitcode=9 qemu-system-x86_64").
 */
static void test_reset_switch_viommu(void)
{
    QTestState *qts = qtest_init("-M q35 -nodefaults -device intel-iommu "
                                 "-global ICH9-LPC.acpi-pci-hotplug-with-"
                                 "bridge-support=off "
                                 "-device pcie-root-port,id=rp0,slot=1 "
                                 "-device x3130-upstream,id=us,bus=rp0 "
                                 "-device xio3130-downstream,id=ds,bus=us,"
                                 "chassis=2,slot=1 "
                                 "-device ats-testdev,bus=ds,id=dev0");
    Env e = { .qts = qts };

    assert_ok(surprise_remove(&e, "us"));
    qtest_system_reset(qts);
    wait_device_deleted(qts, "us");
    g_assert(!device_exists(&e, "ds"));
    g_assert(!device_exists(&e, "dev0"));
    qtest_qmp_device_add(qts, "ats-testdev", "dev1", "{'bus': 'rp0'}");
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/pcie-surprise/remove", test_surprise_remove);
    qtest_add_func("/pcie-surprise/bad-requests", test_bad_requests);
    qtest_add_func("/pcie-surprise/acpi-hotplug", test_acpi_hotplug);
    qtest_add_func("/pcie-surprise/free/power-off", test_power_off_frees);
    qtest_add_func("/pcie-surprise/free/reset", test_reset_frees);
    qtest_add_func("/pcie-surprise/free/device-del", test_device_del_frees);
    qtest_add_func("/pcie-surprise/free/powered-off-slot",
                   test_powered_off_slot);
    qtest_add_func("/pcie-surprise/link/flap", test_link_flap);
    qtest_add_func("/pcie-surprise/link/flap-fast", test_link_flap_fast);
    qtest_add_func("/pcie-surprise/link/disable", test_link_disable);
    qtest_add_func("/pcie-surprise/device-del", test_device_del);
    qtest_add_func("/pcie-surprise/device-del-link-down",
                   test_device_del_link_down);
    if (qtest_has_device("intel-iommu")) {
        qtest_add_func("/pcie-surprise/vtd/inval-outstanding",
                       test_inval_outstanding);
        if (qtest_has_device("x3130-upstream")) {
            qtest_add_func("/pcie-surprise/free/reset-switch-viommu",
                           test_reset_switch_viommu);
        }
    }
    qtest_add_func("/pcie-surprise/loop", test_loop);
    qtest_add_func("/pcie-surprise/compat/pc-q35-10.2", test_compat_10_2);
    qtest_add_func("/pcie-surprise/compat/latest", test_compat_latest);
    qtest_add_func("/pcie-surprise/migrate/link-disable",
                   test_migrate_link_disable);
    qtest_add_func("/pcie-surprise/migrate/link-back", test_migrate_link_back);
    qtest_add_func("/pcie-surprise/migrate/surprise-removed",
                   test_migrate_surprise_removed);
    qtest_add_func("/pcie-surprise/migrate/link-held",
                   test_migrate_link_held);
    qtest_add_func("/pcie-surprise/free/reset-snapshot-load",
                   test_reset_snapshot_load);
    return g_test_run();
}
