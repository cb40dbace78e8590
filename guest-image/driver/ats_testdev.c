// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest driver for ite-lab's ATS test endpoint (QEMU "ats-testdev").
 *
 * It exists to make the IOMMU driver work: every pass of the workload maps
 * fresh pages with the DMA API, has the device copy and compare them
 * through its ATC, checks the data with the CPU, and unmaps them again, so
 * intel-iommu issues IOTLB and device-TLB invalidations for each pass.
 *
 * debugfs, under /sys/kernel/debug/ats_testdev/<pci name>/:
 *   run     write N: run N passes now, in the writer's context; the write
 *           returns once they are done (or the first one failed)
 *   result  the last run: "passes=N ok=N errors=N last_status=0x..."
 *   stats   the device's own counters (BAR0 statistics block)
 *   pace_ms sleep this long between passes (0, the default, to 1000), so
 *           that a run can span a slow event, such as another device's
 *           removal, without keeping a CPU busy for its whole length
 *   hold_ms keep each pass's buffers mapped this long after its DMA (0, the
 *           default, to 1000): the device holds live translations in its
 *           ATC meanwhile, the moment for the host to hang it (hung-dma)
 *
 * Guarantees: runs are serialised by a mutex; a run stops at the first
 * failed pass and reports it (a surprise-removed device reads all-ones and
 * fails the pass with -ENODEV); nothing is left mapped when a run returns;
 * remove() stops a run in progress at its next pass, waits for it (debugfs
 * removal does), and never touches the device after returning.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pci-ats.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#define ATD_VENDOR_ID		0x1b36
#define ATD_DEVICE_ID		0x0015	/* PCI_DEVICE_ID_REDHAT_ATS_TESTDEV */

/* Register map: QEMU's include/hw/misc/ats-testdev.h (docs/specs/ats-testdev.rst) */
#define ATD_REG_MAGIC		0x00
#define ATD_REG_STATUS		0x08
#define ATD_REG_CMD		0x0c
#define ATD_REG_SRC		0x10
#define ATD_REG_DST		0x18
#define ATD_REG_LEN		0x20
#define ATD_REG_PATTERN		0x24
#define ATD_REG_IRQ_STATUS	0x28
#define ATD_REG_IRQ_ENABLE	0x2c
#define ATD_REG_STATS		0x100
#define ATD_MAGIC		0x41545344
#define ATD_CMD_COPY		1
#define ATD_CMD_COMPARE		3
#define ATD_ST_OK		0
#define ATD_IRQ_DONE		1
#define ATD_NR_STATS		14
#define ATD_PAGES		4	/* per pass: src and dst, 2 pages each */

static const char *const atd_stat_names[ATD_NR_STATS] = {
	"atc-hits", "atc-misses", "translation-requests", "translation-ur",
	"untranslated-accesses", "inval-received", "inval-completed",
	"inval-dropped", "inval-errors", "atc-evictions", "stale-uses",
	"dma-commands", "dma-errors", "hung-dma-accesses",
};

struct atd {
	struct pci_dev *pdev;
	void __iomem *bar;
	struct dentry *dir;
	struct mutex lock;	/* serialises runs */
	bool removing;		/* remove() has started: stop running */
	u32 pace_ms;		/* sleep between passes */
	u32 hold_ms;		/* keep a pass's buffers mapped after its DMA */
	u64 irqs;
	/* last run */
	unsigned int passes, ok, errors;
	u32 last_status;
};

static struct dentry *atd_debugfs_root;

static void atd_write64(struct atd *atd, u32 reg, u64 val)
{
	writel(lower_32_bits(val), atd->bar + reg);
	writel(upper_32_bits(val), atd->bar + reg + 4);
}

/* The device runs a command to completion before the doorbell write returns. */
static u32 atd_cmd(struct atd *atd, u32 cmd, dma_addr_t src, dma_addr_t dst,
		   u32 len)
{
	atd_write64(atd, ATD_REG_SRC, src);
	atd_write64(atd, ATD_REG_DST, dst);
	writel(len, atd->bar + ATD_REG_LEN);
	writel(cmd, atd->bar + ATD_REG_CMD);
	return readl(atd->bar + ATD_REG_STATUS);
}

/* One pass: map, copy, compare, check with the CPU, unmap. */
static int atd_pass(struct atd *atd)
{
	struct device *dev = &atd->pdev->dev;
	size_t len = 2 * PAGE_SIZE;
	dma_addr_t src_dma, dst_dma;
	void *src, *dst;
	int ret = 0;
	u32 st;

	src = (void *)__get_free_pages(GFP_KERNEL, 1);
	dst = (void *)__get_free_pages(GFP_KERNEL | __GFP_ZERO, 1);
	if (!src || !dst) {
		ret = -ENOMEM;
		goto out_free;
	}
	get_random_bytes(src, len);

	src_dma = dma_map_single(dev, src, len, DMA_TO_DEVICE);
	if (dma_mapping_error(dev, src_dma)) {
		ret = -ENOMEM;
		goto out_free;
	}
	dst_dma = dma_map_single(dev, dst, len, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, dst_dma)) {
		ret = -ENOMEM;
		goto out_unmap_src;
	}

	st = atd_cmd(atd, ATD_CMD_COPY, src_dma, dst_dma, len);
	if (st == ATD_ST_OK)
		st = atd_cmd(atd, ATD_CMD_COMPARE, src_dma, dst_dma, len);
	atd->last_status = st;
	if (st != ATD_ST_OK)
		ret = st == 0xffffffff ? -ENODEV : -EIO;
	if (READ_ONCE(atd->hold_ms))
		msleep(READ_ONCE(atd->hold_ms));

	dma_unmap_single(dev, dst_dma, len, DMA_BIDIRECTIONAL);
out_unmap_src:
	dma_unmap_single(dev, src_dma, len, DMA_TO_DEVICE);
	if (!ret && memcmp(src, dst, len))
		ret = -EILSEQ;
out_free:
	free_pages((unsigned long)dst, 1);
	free_pages((unsigned long)src, 1);
	return ret;
}

static ssize_t atd_run_write(struct file *file, const char __user *buf,
			     size_t count, loff_t *ppos)
{
	struct atd *atd = file->private_data;
	unsigned int n, i;
	u32 pace;
	int ret;

	ret = kstrtouint_from_user(buf, count, 0, &n);
	if (ret)
		return ret;
	if (!n || n > 1000000)
		return -EINVAL;

	mutex_lock(&atd->lock);
	atd->passes = n;
	atd->ok = 0;
	atd->errors = 0;
	for (i = 0; i < n; i++) {
		if (READ_ONCE(atd->removing)) {
			pci_info(atd->pdev, "workload: stopped after %u passes: device removed\n",
				 i);
			break;
		}
		ret = atd_pass(atd);
		if (ret) {
			atd->errors++;
			pci_warn(atd->pdev, "pass %u of %u failed: %d (status 0x%x)\n",
				 i + 1, n, ret, atd->last_status);
			break;
		}
		atd->ok++;
		pace = READ_ONCE(atd->pace_ms);
		if (pace)
			msleep(pace);
		else
			cond_resched();
	}
	pci_info(atd->pdev, "workload: %u of %u passes ok, %u errors\n",
		 atd->ok, n, atd->errors);
	mutex_unlock(&atd->lock);
	return ret ? ret : count;
}

static const struct file_operations atd_run_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = atd_run_write,
};

static int atd_result_show(struct seq_file *m, void *v)
{
	struct atd *atd = m->private;

	mutex_lock(&atd->lock);
	seq_printf(m, "passes=%u ok=%u errors=%u last_status=0x%x irqs=%llu\n",
		   atd->passes, atd->ok, atd->errors, atd->last_status, atd->irqs);
	mutex_unlock(&atd->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(atd_result);

#define ATD_MAX_PACE_MS		1000

/* Bounded, so that remove() never waits long for a run to notice it. */
static int atd_ms_set(u32 *ms, u64 val)
{
	if (val > ATD_MAX_PACE_MS)
		return -EINVAL;
	WRITE_ONCE(*ms, val);
	return 0;
}

static int atd_pace_get(void *data, u64 *val)
{
	struct atd *atd = data;

	*val = READ_ONCE(atd->pace_ms);
	return 0;
}

static int atd_pace_set(void *data, u64 val)
{
	struct atd *atd = data;

	return atd_ms_set(&atd->pace_ms, val);
}
DEFINE_DEBUGFS_ATTRIBUTE(atd_pace_fops, atd_pace_get, atd_pace_set, "%llu\n");

static int atd_hold_get(void *data, u64 *val)
{
	struct atd *atd = data;

	*val = READ_ONCE(atd->hold_ms);
	return 0;
}

static int atd_hold_set(void *data, u64 val)
{
	struct atd *atd = data;

	return atd_ms_set(&atd->hold_ms, val);
}
DEFINE_DEBUGFS_ATTRIBUTE(atd_hold_fops, atd_hold_get, atd_hold_set, "%llu\n");

static int atd_stats_show(struct seq_file *m, void *v)
{
	struct atd *atd = m->private;
	int i;

	for (i = 0; i < ATD_NR_STATS; i++)
		seq_printf(m, "%s=%llu\n", atd_stat_names[i],
			   readq(atd->bar + ATD_REG_STATS + 8 * i));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(atd_stats);

static irqreturn_t atd_irq(int irq, void *data)
{
	struct atd *atd = data;
	u32 status = readl(atd->bar + ATD_REG_IRQ_STATUS);

	if (!status || status == 0xffffffff)
		return IRQ_NONE;
	writel(status, atd->bar + ATD_REG_IRQ_STATUS);
	atd->irqs++;
	return IRQ_HANDLED;
}

static int atd_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct atd *atd;
	int ret;

	atd = devm_kzalloc(&pdev->dev, sizeof(*atd), GFP_KERNEL);
	if (!atd)
		return -ENOMEM;
	atd->pdev = pdev;
	mutex_init(&atd->lock);

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (ret)
		return ret;
	atd->bar = pcim_iomap_table(pdev)[0];
	if (readl(atd->bar + ATD_REG_MAGIC) != ATD_MAGIC)
		return dev_err_probe(&pdev->dev, -ENODEV, "bad magic\n");
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	pci_set_master(pdev);

	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_INTX);
	if (ret < 0)
		return ret;
	ret = devm_request_irq(&pdev->dev, pci_irq_vector(pdev, 0), atd_irq,
			       IRQF_SHARED, KBUILD_MODNAME, atd);
	if (ret) {
		pci_free_irq_vectors(pdev);
		return ret;
	}
	writel(ATD_IRQ_DONE, atd->bar + ATD_REG_IRQ_ENABLE);

	pci_set_drvdata(pdev, atd);
	atd->dir = debugfs_create_dir(pci_name(pdev), atd_debugfs_root);
	debugfs_create_file("run", 0200, atd->dir, atd, &atd_run_fops);
	debugfs_create_file("result", 0400, atd->dir, atd, &atd_result_fops);
	debugfs_create_file("stats", 0400, atd->dir, atd, &atd_stats_fops);
	debugfs_create_file_unsafe("pace_ms", 0600, atd->dir, atd,
				   &atd_pace_fops);
	debugfs_create_file_unsafe("hold_ms", 0600, atd->dir, atd,
				   &atd_hold_fops);
	pci_info(pdev, "ats-testdev bound, ATS %s\n",
		 pci_ats_supported(pdev) ? "supported" : "not supported");
	return 0;
}

static void atd_remove(struct pci_dev *pdev)
{
	struct atd *atd = pci_get_drvdata(pdev);

	/* No run can start or be in progress once the files are gone. */
	WRITE_ONCE(atd->removing, true);
	debugfs_remove_recursive(atd->dir);
	mutex_lock(&atd->lock);
	writel(0, atd->bar + ATD_REG_IRQ_ENABLE);
	mutex_unlock(&atd->lock);
	devm_free_irq(&pdev->dev, pci_irq_vector(pdev, 0), atd);
	pci_free_irq_vectors(pdev);
	pci_info(pdev, "ats-testdev removed\n");
}

static const struct pci_device_id atd_ids[] = {
	{ PCI_DEVICE(ATD_VENDOR_ID, ATD_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, atd_ids);

static struct pci_driver atd_driver = {
	.name = KBUILD_MODNAME,
	.id_table = atd_ids,
	.probe = atd_probe,
	.remove = atd_remove,
};

static int __init atd_init(void)
{
	int ret;

	atd_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	ret = pci_register_driver(&atd_driver);
	if (ret)
		debugfs_remove_recursive(atd_debugfs_root);
	return ret;
}

static void __exit atd_exit(void)
{
	pci_unregister_driver(&atd_driver);
	debugfs_remove_recursive(atd_debugfs_root);
}

module_init(atd_init);
module_exit(atd_exit);
MODULE_DESCRIPTION("ite-lab ATS test endpoint driver");
MODULE_LICENSE("GPL");
