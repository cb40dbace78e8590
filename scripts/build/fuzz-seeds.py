#!/usr/bin/env python3
"""Seed inputs for scripts/fuzz.sh: generic-fuzz programs that reach the
interesting states quickly (ECAM and ATS enabled, a DMA through the ATC,
the invalidation queue running device-TLB and wait descriptors, ITE and
its clearing), from which libFuzzer mutates.

    scripts/build/fuzz-seeds.py TARGET DIR    write TARGET's seeds into DIR

The encoding is generic-fuzz's (tests/qtest/fuzz/generic_fuzz.c): commands
separated by "FUZZ", the first byte an opcode, then the operands as the C
structs there lay them out (little endian, with their padding). MMIO
operands name a region by its index among the matched MemoryRegions in
address order (taken modulo their number) and an offset into it; PCI config
operands name a device by its index among the matched PCI devices.
"""
import os
import struct
import sys

SEP = b"FUZZ"
OP_READ, OP_WRITE, OP_PCI_READ, OP_PCI_WRITE = 2, 3, 4, 5
OP_ADD_DMA_PATTERN, OP_CLEAR_DMA_PATTERNS, OP_CLOCK_STEP = 7, 8, 9
SIZE = {1: 0, 2: 1, 4: 2, 8: 3}

# Region indices. Matched regions, in address order: the ECAM window at
# 0xb0000000 (only once enabled), the endpoints' BAR0s (libqos maps them
# from 0xe0000000 in device order) and intel-iommu's registers at
# 0xfed90000. PCI devices: "mch" first (it comes first in
# QEMU_FUZZ_OBJECTS), then the endpoints.
PCI_MCH = 0
ECAM = 0            # after ecam_on()
DUT_DEVFN = [0x20, 0x28, 0x30, 0x38]    # addr=04.0 .. 07.0

# intel-iommu registers (hw/i386/intel_iommu_internal.h)
GCMD, GSTS, RTADDR, CCMD, FSTS, FECTL = 0x18, 0x1c, 0x20, 0x28, 0x34, 0x38
IQH, IQT, IQA, ICS, IECTL, IQER = 0x80, 0x88, 0x90, 0x9c, 0xa0, 0xb0
GCMD_TE, GCMD_SRTP, GCMD_QIE = 1 << 31, 1 << 30, 1 << 26
FSTS_ITE, FSTS_ICE, FSTS_IQE = 1 << 6, 1 << 5, 1 << 4
DESC_CC, DESC_IOTLB, DESC_DEVICE, DESC_WAIT = 1, 2, 3, 5
WAIT_SW, WAIT_IF = 1 << 5, 1 << 4

# ats-testdev registers (hw/include/hw/misc/ats-testdev.h)
ATD_SRC, ATD_DST, ATD_LEN, ATD_CMD, ATD_PATTERN = 0x10, 0x18, 0x20, 0x0c, 0x24
ATD_CMD_COPY, ATD_CMD_FILL, ATD_CMD_COMPARE, ATD_CMD_FLUSH = 1, 2, 3, 4

QUEUE = 0x100000        # invalidation queue (guest-physical)
STATUS = 0x200000       # wait descriptor status
ROOT = 0x300000


def write(base, off, val, size=4):
    # struct { uint8_t size, base; (2 bytes padding) uint32_t offset; uint64_t value; }
    return bytes([OP_WRITE, SIZE[size], base, 0, 0]) + struct.pack("<IQ", off, val)


def read(base, off, size=4):
    # struct { uint8_t size, base; (2 bytes padding) uint32_t offset; }
    return bytes([OP_READ, SIZE[size], base, 0, 0]) + struct.pack("<I", off)


def pci_write(dev, off, val, size=4):
    # struct { uint8_t size, base, offset; (1 byte padding) uint32_t value; }
    return bytes([OP_PCI_WRITE, SIZE[size], dev, off, 0]) + struct.pack("<I", val)


def dma(data, index=0, stride=0):
    """From now on, every DMA read from RAM is filled with @data."""
    return bytes([OP_ADD_DMA_PATTERN, index, stride]) + data


def clear_dma():
    return bytes([OP_CLEAR_DMA_PATTERNS])


def step():
    """Run the virtual clock to the next timer (e.g. an ITE deadline)."""
    return bytes([OP_CLOCK_STEP])


def program(*cmds):
    out = SEP.join(cmds)
    assert all(SEP not in c for c in cmds), cmds
    return out


def desc(lo, hi):
    return struct.pack("<QQ", lo, hi)


def desc256(lo, hi):
    return struct.pack("<QQQQ", lo, hi, 0, 0)


def ecam_on():
    """MCH PCIEXBAR at 0xb0000000, 256 buses, enabled."""
    return pci_write(PCI_MCH, 0x60, 0xb0000001)


def ats_enable(devfn):
    """ATS Control (capability at 0x100): Enable, STU 0."""
    return write(ECAM, (devfn << 12) + 0x106, 0x8000, 2)


class Layout:
    """Region indices of a target, before and after ECAM is mapped."""

    def __init__(self, bars):
        self.bars = bars

    def bar(self, i, ecam=True):
        return i + (1 if ecam else 0)

    def vtd(self, ecam=True):
        """intel-iommu's registers: after the BARs."""
        return self.bars + (1 if ecam else 0)


def sweep(base, size):
    """Every register of a region: read at 4 and 8 bytes; written with 0
    at 8 bytes at 8-byte aligned offsets (which reach the device whole)."""
    reads = []
    for off in range(0, size, 4):
        reads += [read(base, off, 4)] + ([read(base, off, 8)] if off + 8 <= size else [])
    writes = [write(base, off, 0, 8) for off in range(0, size - 4, 8)]
    return {"regs-read": program(*reads), "regs-write": program(*writes)}


def endpoint_seeds(lay):
    """The endpoint alone: each command, ATS on and off, the ATC."""
    seeds = {}
    seeds.update(sweep(lay.bar(0, ecam=False), 0x180))
    b = lay.bar(0, ecam=False)
    seeds["dma-copy"] = program(
        write(b, ATD_SRC, 0x1000, 8), write(b, ATD_DST, 0x2000, 8),
        write(b, ATD_LEN, 0x100), write(b, ATD_CMD, ATD_CMD_COPY),
        read(b, 0x08), read(b, 0x100, 8))
    seeds["dma-fill-compare"] = program(
        write(b, ATD_DST, 0x3000, 8), write(b, ATD_LEN, 0x2000),
        write(b, ATD_PATTERN, 0xa5a5a5a5), write(b, ATD_CMD, ATD_CMD_FILL),
        write(b, ATD_SRC, 0x3000, 8), write(b, ATD_CMD, ATD_CMD_COMPARE),
        read(b, 0x30, 8))
    b = lay.bar(0)
    seeds["ats-atc"] = program(
        ecam_on(), ats_enable(DUT_DEVFN[0]), ats_enable(DUT_DEVFN[1]),
        write(b, ATD_SRC, 0x1000, 8), write(b, ATD_DST, 0x5000, 8),
        write(b, ATD_LEN, 0x3000), write(b, ATD_CMD, ATD_CMD_COPY),
        write(b, ATD_CMD, ATD_CMD_COPY), read(b, 0x38),
        write(lay.bar(1), ATD_DST, 0x7000, 8), write(lay.bar(1), ATD_LEN, 0x4000),
        write(lay.bar(1), ATD_CMD, ATD_CMD_FILL),
        write(ECAM, (DUT_DEVFN[0] << 12) + 0x106, 0, 2),
        write(b, ATD_CMD, ATD_CMD_FLUSH), read(b, 0x100, 8))
    return seeds


def vtd_seeds(lay, scalable):
    """intel-iommu: the invalidation queue with device-TLB invalidations to
    each endpoint, waits behind them, ITE and its clearing, ICE."""
    seeds = {}
    v = lay.vtd()
    d = desc256 if scalable else desc
    iqa = QUEUE | (0x800 if scalable else 0)    # 256-bit descriptors in scalable mode
    shift = 5 if scalable else 4

    def queue_on():
        return [ecam_on()] + [ats_enable(f) for f in DUT_DEVFN] + [
            write(v, IQA, iqa, 8), write(v, GCMD, GCMD_QIE)]

    def submit(n, descriptor):
        """Fill DMA reads with @descriptor, move the tail to @n."""
        return [clear_dma(), dma(descriptor), write(v, IQT, n << shift, 8)]

    seeds.update(sweep(lay.vtd(ecam=False), 0x230))
    for i, devfn in enumerate(DUT_DEVFN):
        # device-TLB invalidation of one page, a wait with status write and
        # interrupt, time passes (a slow or silent device: ITE), clear ITE,
        # then more of the same.
        cmds = queue_on()
        cmds += submit(1, d(DESC_DEVICE | devfn << 32, 0x40000000))
        cmds += submit(2, d(DESC_WAIT | WAIT_SW | WAIT_IF | 0x1234 << 32, STATUS))
        cmds += [step(), read(v, FSTS), read(v, IQER, 8), read(v, IQH, 8)]
        cmds += [write(v, FSTS, FSTS_ITE | FSTS_ICE | FSTS_IQE)]
        cmds += submit(4, d(DESC_DEVICE | devfn << 32, 0x40001001))
        cmds += [step(), write(v, FSTS, FSTS_ITE), read(v, GSTS)]
        seeds["devtlb-wait-ite-%d" % i] = program(*cmds)
    # many device-TLB invalidations at once (slot exhaustion), a wait, a
    # DMA by the endpoint meanwhile
    cmds = queue_on()
    cmds += submit(100, d(DESC_DEVICE | DUT_DEVFN[2] << 32, 0x1000))
    cmds += [write(lay.bar(2), ATD_DST, 0x2000, 8), write(lay.bar(2), ATD_LEN, 16),
             write(lay.bar(2), ATD_CMD, ATD_CMD_FILL)]
    cmds += [step(), write(v, FSTS, FSTS_ITE), step()]
    seeds["devtlb-many"] = program(*cmds)
    # a source-id without a device, then disabling the queue while blocked
    cmds = queue_on()
    cmds += submit(1, d(DESC_DEVICE | 0x0100 << 32, 0))
    cmds += submit(2, d(DESC_WAIT | WAIT_SW | 0x55 << 32, STATUS))
    cmds += [write(v, GCMD, 0), write(v, GCMD, GCMD_QIE), step(),
             write(v, FSTS, FSTS_ITE)]
    seeds["devtlb-nodev-qi-off"] = program(*cmds)
    # translation on: root/context/page tables come from the DMA pattern
    cmds = queue_on()
    cmds += [write(v, RTADDR, ROOT, 8), write(v, GCMD, GCMD_QIE | GCMD_SRTP),
             write(v, GCMD, GCMD_QIE | GCMD_TE)]
    cmds += [clear_dma(), dma(struct.pack("<QQ", ROOT + 0x1001, 0x102))]
    b = lay.bar(0)
    cmds += [write(b, ATD_SRC, 0x1000, 8), write(b, ATD_DST, 0x8000, 8),
             write(b, ATD_LEN, 0x40), write(b, ATD_CMD, ATD_CMD_COPY)]
    cmds += submit(1, d(DESC_IOTLB | 1 << 4, 0))
    cmds += submit(2, d(DESC_CC | 1 << 4, 0))
    cmds += submit(3, d(DESC_DEVICE | DUT_DEVFN[0] << 32 | 1 << 16, 0x1001))
    seeds["translate"] = program(*cmds)
    return seeds


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    target, out = sys.argv[1], sys.argv[2]
    if target == "ats-testdev":
        seeds = endpoint_seeds(Layout(bars=2))
    elif target in ("vtd-iq", "vtd-iq-sm"):
        seeds = vtd_seeds(Layout(bars=4), target == "vtd-iq-sm")
    else:
        sys.exit("fuzz-seeds.py: unknown target %s" % target)
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
