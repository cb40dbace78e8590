"""The vIOMMU modes, and the machine each one runs on.

A cell runs a scenario in a mode on a kernel of the mode's architecture
(docs/harness.md, "The machine"). A mode names its machine (MACHINES):
the QEMU binary and machine type, the vIOMMU device, the guest console,
the firmware, the trace events of the timeline; and adds what is its
own: properties of the vIOMMU and the guest driver's option. An
architecture (ARCHES) says what a kernel built for it boots as, and
which QEMU runs it. Everything else about a cell's machine (memory,
topology, devices) is its scenario's.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Arch:
    name: str           # a kernel's architecture: scenario.KERNEL_ARCH
    qemu: str           # the QEMU binary's file name, in build/qemu/build
    image: str          # the kernel image, in a built kernel tree
    tsc: bool           # the guest is told the host's TSC (machine.tsc_cmdline)


X86 = Arch("x86_64", qemu="qemu-system-x86_64",
           image="arch/x86/boot/bzImage", tsc=True)
ARM64 = Arch("arm64", qemu="qemu-system-aarch64",
             image="arch/arm64/boot/Image", tsc=False)
ARCHES = {a.name: a for a in (X86, ARM64)}


@dataclass(frozen=True)
class MachineDef:
    name: str
    arch: Arch
    machine: str        # -machine
    kvm_machine: str    # added to it under --accel=kvm
    args: tuple         # QEMU arguments of the machine, before the vIOMMU
    iommu: str          # the vIOMMU's -device, with the properties it always has
    iommu_default: str  # its properties when the scenario gives none
    console: str        # the kernel's console (serial port 0)
    cmdline: str        # kernel command line words of the machine, after the base
    firmware: tuple     # the firmware files it needs from build/firmware (-L)
    # The timeline (harness/timeline.py): (lane, trace event) per lane.
    lanes: tuple
    # What names this vIOMMU in a scenario's guest log and trace keys: a
    # mode on another machine must not inherit a line with one of them
    # (scenario.load).
    words: tuple


Q35 = MachineDef(
    "q35", X86,
    machine="q35",
    # Interrupt remapping with an in-kernel irqchip needs it split.
    kvm_machine=",kernel-irqchip=split",
    # Native PCIe hotplug (pciehp) instead of ACPI hotplug: surprise
    # removal and the attention button need it.
    args=("-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"),
    iommu="intel-iommu,id=iommu",
    iommu_default="intremap=on,device-iotlb=on",
    console="console=ttyS0,115200",
    # no_timer_check: under TCG on a busy host, the IO-APIC timer check at
    # boot can miss its ticks and panic ("timer doesn't work through
    # Interrupt-remapped IO-APIC"); virtual machines skip it.
    cmdline="no_timer_check",
    firmware=("bios-256k.bin", "linuxboot_dma.bin"),
    lanes=(("submitted", "vtd_devtlb_inv_submit"),
           ("completed", "vtd_devtlb_inv_complete"),
           ("timed out", "vtd_devtlb_inv_timeout"),
           ("ITE cleared", "vtd_inv_qi_ite_clear")),
    words=("vtd_", "DMAR"),
)

VIRT = MachineDef(
    "virt", ARM64,
    # The kernel boots from -kernel with a device tree: no firmware.
    machine="virt,gic-version=3",
    kvm_machine="",
    args=(),
    # ats=on: IDR0.ATS, and the ats-supported of the PCIe host's DT node
    # (and of IORT's root complex), without which Linux never enables ATS.
    iommu="arm-smmuv3,id=iommu,primary-bus=pcie.0,ats=on",
    iommu_default="",
    console="console=ttyAMA0",
    cmdline="",
    firmware=(),
    # The lanes of VT-d's names: a CMD_SYNC that timed out raising
    # CERROR_ATC_INV_SYNC is the ITE; the guest acknowledging that
    # CMDQ_ERR (GERRORN) is clearing it.
    lanes=(("submitted", "smmuv3_atc_inv_submit"),
           ("completed", "smmuv3_atc_inv_complete"),
           ("timed out", "smmuv3_atc_inv_sync_timeout"),
           ("ITE cleared", "smmuv3_cmdq_err_ack")),
    words=("smmuv3_", "arm-smmu-v3"),
)
MACHINES = {m.name: m for m in (Q35, VIRT)}
# The machine whose vIOMMU the [scenario] section's `iommu` key configures
# (the lab's first); the others' come from their modes' sections only.
HOME = Q35


@dataclass(frozen=True)
class Mode:
    name: str
    machine: MachineDef
    iommu: str          # added to the vIOMMU's properties
    cmdline: str        # the guest driver's option
    # A group of its own: the mode's cells are in it, and run only when
    # asked for (run-tests.sh -g GROUP, --mode=NAME, or a kernel of its
    # architecture named by --kernel), so that the default matrix stays
    # what it is.
    group: str = ""


# legacy: root and context tables; scalable: PASID tables. 6.12 would
# pick scalable mode by itself when offered; saying it keeps each cell's
# mode explicit in its command. smmuv3: Linux's arm-smmu-v3 needs no
# option.
MODES = {m.name: m for m in (
    Mode("legacy", Q35, "", "intel_iommu=on,sm_off"),
    Mode("scalable", Q35, ",x-scalable-mode=on", "intel_iommu=on,sm_on"),
    Mode("smmuv3", VIRT, "", "", group="smmuv3"),
)}


def machine_of(arch):
    """The machine that boots kernels of the Arch `arch`."""
    return next(m for m in MACHINES.values() if m.arch == arch)
