"""The scenario loader: every shipped scenario parses, and malformed files
are rejected with a message that says what is wrong."""
import os
import re
import shlex
import tempfile
import textwrap
import unittest

from harness import scenario

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MINIMAL = """
[scenario]
description = x
steps =
    guest ping
"""


class ShippedScenarios(unittest.TestCase):
    def test_all_parse(self):
        found = scenario.load_dir(os.path.join(TOP, "scenarios"))
        self.assertTrue(found, "no scenarios shipped")
        for s in found:
            with self.subTest(s.name):
                self.assertTrue(s.description)
                self.assertTrue(s.steps)
                if set(s.modes) & set(scenario.DEFAULT_MODES):
                    for k in scenario.STATED:
                        self.assertIn(k, s.expect, "%s: no expectation for %s" % (s.name, k))
                if "smmuv3" in s.modes:
                    self.assertIn("mainline-arm64", s.expect,
                                  "%s: runs in smmuv3, no expectation for mainline-arm64"
                                  % s.name)


class Malformed(unittest.TestCase):
    def load(self, text, name="t.scenario", sets=()):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, name)
            with open(p, "w") as f:
                f.write(textwrap.dedent(text))
            return scenario.load(p, [scenario.parse_override(t) for t in sets])

    def assertRejected(self, text, message):
        with self.assertRaises(scenario.ScenarioError) as cm:
            self.load(text)
        self.assertIn(message, str(cm.exception))

    def test_minimal_defaults(self):
        s = self.load(MINIMAL)
        self.assertEqual(s.timeout, 120)
        self.assertEqual(s.smp, 2)
        self.assertEqual(s.groups, ["default"])
        self.assertEqual(s.expectation("patched").outcome, "pass")

    def test_wrong_suffix(self):
        with self.assertRaises(scenario.ScenarioError):
            self.load(MINIMAL, name="t.ini")

    def test_unknown_key(self):
        self.assertRejected(MINIMAL + "colour = blue\n", "unknown key(s) colour")

    def test_unknown_section(self):
        self.assertRejected(MINIMAL + "[sid]\nexpect = pass\n", "unknown section [sid]")

    def test_bad_step_kind(self):
        self.assertRejected("[scenario]\nsteps = reboot now\n", "must start with one of")

    def test_event_needs_seconds(self):
        self.assertRejected("[scenario]\nsteps = event DEVICE_DELETED device=dut\n",
                            "last word must be seconds")

    def test_bad_regex(self):
        self.assertRejected(MINIMAL + "require = (unclosed\n", "bad regex")

    def test_expected_failure_needs_signature(self):
        self.assertRejected(MINIMAL + "[unpatched]\nexpect = fail\n", "needs a signature")

    def test_bad_expectation(self):
        self.assertRejected(MINIMAL + "[patched]\nexpect = maybe\n", "must be pass or fail")

    def test_unknown_kernel_key(self):
        self.assertRejected(MINIMAL + "[patched]\nrequires = x\n", "[patched] unknown key(s) requires")

    def test_shows_says_what_a_failure_means(self):
        s = self.load(MINIMAL + "[unpatched]\nexpect = fail\nsignature = ITE\n"
                      "shows = the flush is\n    resent for ever\n")
        self.assertEqual(s.expectation("unpatched").shows, "the flush is resent for ever")
        self.assertEqual(s.expectation("mainline-base").shows, "the flush is resent for ever")
        self.assertRejected(MINIMAL + "[patched]\nshows = nothing\n", "shows is for expect = fail")

    def test_per_kernel_require(self):
        s = self.load(MINIMAL + "[patched]\nrequire =\n    isolated\n    blocked\n")
        self.assertEqual(s.expectation("patched").require, ["isolated", "blocked"])
        self.assertEqual(s.expectation("unpatched").require, [])

    def test_mainline_pair_held_to_the_6_12_pair(self):
        s = self.load(MINIMAL + "[unpatched]\nexpect = fail\nsignature = ITE\nrepeat = 5\n"
                      "[patched]\nrequire = isolated\n")
        self.assertEqual(s.expectation("mainline-base").outcome, "fail")
        self.assertEqual(s.expectation("mainline-base").repeat, 5)
        self.assertEqual(s.expectation("mainline").require, ["isolated"])
        self.assertEqual(s.expectation("mainline-debug").require, ["isolated"])
        s = self.load(MINIMAL + "[unpatched]\nexpect = fail\nsignature = ITE\n"
                      "[mainline-base]\nexpect = fail\nsignature = other\n"
                      "[mainline]\nrequire = blocked\n")
        self.assertEqual(s.expectation("mainline-base").signature, "other")
        self.assertEqual(s.expectation("unpatched").signature, "ITE")
        self.assertEqual(s.expectation("mainline").require, ["blocked"])
        # The debug lane of the mainline series follows [mainline] first.
        self.assertEqual(s.expectation("mainline-debug").require, ["blocked"])
        self.assertEqual(s.expectation("patched-debug").require, [])

    def test_debug_kernel_held_to_patched(self):
        s = self.load(MINIMAL + "[patched]\nexpect = fail\nsignature = ITE\nrepeat = 2\n"
                      "require = isolated\n[unpatched]\nexpect = pass\n")
        self.assertEqual(s.expectation("patched-debug"), s.expectation("patched"))
        self.assertEqual(s.expectation("patched-debug").repeat, 2)
        s = self.load(MINIMAL + "[unpatched]\nexpect = fail\nsignature = ITE\n")
        self.assertEqual(s.expectation("patched-debug").outcome, "pass")
        s = self.load(MINIMAL + "[patched]\nrequire = isolated\n"
                      "[patched-debug]\nrequire = lockdep\n")
        self.assertEqual(s.expectation("patched-debug").require, ["lockdep"])
        self.assertEqual(s.expectation("patched").require, ["isolated"])

    def test_trace(self):
        s = self.load(MINIMAL + "trace = a_* b\n    c\ntrace-order =\n    a_x\n    c\n")
        self.assertEqual(s.trace, ["a_*", "b", "c"])
        self.assertEqual(s.trace_order, ["a_x", "c"])

    def test_modes(self):
        self.assertEqual(self.load(MINIMAL).modes, ["legacy", "scalable"])
        self.assertEqual(self.load(MINIMAL + "modes = scalable\n").modes, ["scalable"])
        self.assertEqual(self.load(MINIMAL + "modes = smmuv3\n").modes, ["smmuv3"])
        self.assertRejected(MINIMAL + "modes = nested\n", "modes must be among")

    def test_cycles(self):
        s = self.load(MINIMAL + "cycles = 2\ncycle =\n    qmp device_add id=d{n}\n"
                      "after = guest ping\n")
        self.assertEqual(s.cycles, 2)
        self.assertEqual(s.cycle[0].in_cycle(7).words, ["device_add", "id=d7"])
        self.assertEqual(s.cycle[0].in_cycle(7).text, "qmp device_add id=d7")
        self.assertEqual(len(s.after), 1)

    def test_cycle_needs_cycles(self):
        self.assertRejected(MINIMAL + "cycle = guest ping\n", "cycle and cycles go together")
        self.assertRejected(MINIMAL + "cycles = 3\n", "cycle and cycles go together")

    def test_trace_order_needs_trace(self):
        self.assertRejected(MINIMAL + "trace-order = a\n", "trace-order needs trace")

    def test_trace_forbid(self):
        s = self.load(MINIMAL + "trace = a_*\ntrace-forbid =\n    a_unexpected\n")
        self.assertEqual(s.trace_forbid, ["a_unexpected"])
        self.assertRejected(MINIMAL + "trace-forbid = a\n", "trace-forbid needs trace")
        self.assertRejected(MINIMAL + "trace = a\ntrace-forbid = (\n", "bad regex")

    def test_timeline(self):
        self.assertTrue(self.load(MINIMAL).timeline)
        self.assertTrue(self.load(MINIMAL + "timeline = on\n").timeline)
        self.assertFalse(self.load(MINIMAL + "timeline = off\n").timeline)
        for bad in ("no", "false", "OFF", ""):
            with self.subTest(bad):
                self.assertRejected(MINIMAL + "timeline = %s\n" % bad,
                                    "timeline must be on or off, got %r" % bad)

    def test_bad_timeout(self):
        self.assertRejected(MINIMAL + "timeout = soon\n", "invalid literal")


SMMUV3 = MINIMAL + """modes = legacy scalable smmuv3
require =
    DMAR: IOMMU enabled
    pciehp: Slot
trace = vtd_devtlb_inv_*
[smmuv3]
require =
    arm-smmu-v3 .*: oas
    pciehp: Slot
trace = smmuv3_*
[mainline-arm64]
expect = fail
signature = CMD_SYNC timeout
"""


class Modes(unittest.TestCase):
    """A mode's section ([smmuv3]) in place of the [scenario] section's
    keys in that mode, and what the loader refuses."""
    load = Malformed.load
    assertRejected = Malformed.assertRejected

    def test_mode_section_replaces(self):
        s = self.load(SMMUV3)
        self.assertEqual(s.modes, ["legacy", "scalable", "smmuv3"])
        m = s.in_mode("smmuv3")
        self.assertEqual(m.require, ["arm-smmu-v3 .*: oas", "pciehp: Slot"])
        self.assertEqual(m.trace, ["smmuv3_*"])
        self.assertEqual(m.iommu, "")           # arm-smmuv3's defaults
        self.assertEqual(m.forbid, s.forbid)    # not in [smmuv3]: the scenario's
        # The x86 modes: the scenario as written, the same object.
        self.assertIs(s.in_mode("legacy"), s)
        self.assertEqual(s.iommu, "intremap=on,device-iotlb=on")
        self.assertEqual(s.expectation("mainline-arm64").signature, "CMD_SYNC timeout")
        # Held to nothing else: no [mainline-arm64], a pass.
        s = self.load(SMMUV3.replace("[mainline-arm64]\nexpect = fail\n"
                                     "signature = CMD_SYNC timeout\n", ""))
        self.assertEqual(s.expectation("mainline-arm64").outcome, "pass")

    def test_iommu_per_machine(self):
        s = self.load(SMMUV3.replace("[smmuv3]\n", "[smmuv3]\niommu = atc-inv-timeout-ms=2000\n")
                      .replace("trace = vtd", "iommu = intremap=on,devtlb-timeout-ms=2000\n"
                               "trace = vtd"))
        self.assertEqual(s.in_mode("smmuv3").iommu, "atc-inv-timeout-ms=2000")
        self.assertEqual(s.in_mode("scalable").iommu, "intremap=on,devtlb-timeout-ms=2000")
        # intel-iommu's properties in the file, none said for arm-smmuv3
        self.assertRejected(SMMUV3.replace("trace = vtd", "iommu = intremap=on\ntrace = vtd"),
                            "iommu = intremap=on is intel-iommu's; the scenario runs in "
                            "smmuv3 too, on arm-smmuv3: give [smmuv3] iommu")
        # ... but --set iommu=... for a run is no mistake in the file
        s = self.load(SMMUV3, sets=["iommu=intremap=on,devtlb-timeout-ms=50",
                                    "smmuv3.iommu=atc-inv-timeout-ms=50"])
        self.assertEqual(s.in_mode("smmuv3").iommu, "atc-inv-timeout-ms=50")
        self.assertEqual(s.in_mode("legacy").iommu, "intremap=on,devtlb-timeout-ms=50")

    def test_another_viommus_lines_refused(self):
        self.assertRejected(SMMUV3.replace("[smmuv3]\nrequire =\n    arm-smmu-v3 .*: oas\n"
                                           "    pciehp: Slot\n", "[smmuv3]\n"),
                            "require: 'DMAR: IOMMU enabled' names 'DMAR', another vIOMMU's, "
                            "and the scenario runs in smmuv3 (arm-smmuv3): give [smmuv3] "
                            "require")
        self.assertRejected(SMMUV3.replace("trace = smmuv3_*\n", ""),
                            "trace: 'vtd_devtlb_inv_*' names 'vtd_'")
        self.assertRejected(SMMUV3.replace("modes = legacy scalable smmuv3\n", "")
                            .replace("[smmuv3]", "[legacy]"),
                            "require: 'arm-smmu-v3 .*: oas' names 'arm-smmu-v3'")
        self.assertRejected(SMMUV3.replace("signature = CMD_SYNC", "signature = DMAR: ITE"),
                            "[mainline-arm64] 'DMAR: ITE timeout' names 'DMAR', another vIOMMU's "
                            "than arm64 kernels boot with")

    def test_sections_for_modes_and_kernels_it_runs(self):
        self.assertRejected(MINIMAL + "[smmuv3]\nrequire = x\n",
                            "[smmuv3] is for a mode the scenario does not run in")
        self.assertRejected(MINIMAL + "[mainline-arm64]\nexpect = pass\n",
                            "[mainline-arm64] is for an arm64 kernel, and the scenario runs "
                            "in no mode of that architecture")
        self.assertRejected(SMMUV3 + "[smmuv3]\n", "section 'smmuv3' already exists")
        self.assertRejected(SMMUV3.replace("[smmuv3]\n", "[smmuv3]\nsteps = guest ping\n"),
                            "[smmuv3] unknown key(s) steps: a mode's section has iommu, "
                            "require, forbid, trace, trace-order, trace-forbid")
        self.assertRejected(SMMUV3.replace("trace = smmuv3_*", "trace =\ntrace-order = x"),
                            "trace-order needs trace: the events to record (in mode smmuv3)")
        self.assertRejected(MINIMAL + "modes = smmuv3 vt-d\n", "modes must be among "
                            "legacy, scalable, smmuv3")

    def test_set_mode_keys(self):
        self.assertEqual(scenario.parse_override("smmuv3.iommu=atc-inv-timeout-ms=50"),
                         ("smmuv3", "iommu", "atc-inv-timeout-ms=50"))
        for bad in ("smmuv3.steps=x", "smmuv3.expect=fail", "virt.iommu=x"):
            with self.subTest(bad), self.assertRaises(scenario.ScenarioError) as cm:
                scenario.parse_override(bad)
            self.assertIn("MODE.KEY=VALUE, MODE one of legacy, scalable, smmuv3",
                          str(cm.exception))
        # A --set of a mode's key on a scenario that does not run in it: no error
        s = self.load(MINIMAL, sets=["smmuv3.iommu=atc-inv-timeout-ms=50"])
        self.assertEqual(s.modes, ["legacy", "scalable"])


class Topology(unittest.TestCase):
    """The default root port, a scenario's own topology, and its devices."""
    load = Malformed.load
    ROOT_PORT = ["-device", "pcie-root-port,id=rp1,bus=pcie.0,addr=0x2,chassis=1,slot=1"]
    DUT = ["-device", "ats-testdev,id=dut,bus=rp1"]

    def test_default_is_one_root_port(self):
        self.assertEqual(self.load(MINIMAL).topology, self.ROOT_PORT)
        self.assertEqual(shlex.split(scenario.DEFAULT_TOPOLOGY), self.ROOT_PORT)

    def test_devices_follow_the_default(self):
        s = self.load(MINIMAL + "devices = -device ats-testdev,id=dut,bus=rp1\n")
        self.assertEqual(s.topology, self.ROOT_PORT + self.DUT)

    def test_own_topology_replaces_the_default(self):
        s = self.load(MINIMAL + "topology =\n    -device pcie-root-port,id=rp9,bus=pcie.0,addr=0x3"
                      "\n    -device x3130-upstream,id=up1,bus=rp9\n"
                      "devices = -device ats-testdev,id=dut,bus=up1\n")
        self.assertEqual(s.topology, ["-device", "pcie-root-port,id=rp9,bus=pcie.0,addr=0x3",
                                      "-device", "x3130-upstream,id=up1,bus=rp9",
                                      "-device", "ats-testdev,id=dut,bus=up1"])

    def test_empty_topology_is_none(self):
        self.assertEqual(self.load(MINIMAL + "topology =\n").topology, [])
        s = self.load(MINIMAL + "topology =\ndevices = -device ats-testdev,id=dut\n")
        self.assertEqual(s.topology, ["-device", "ats-testdev,id=dut"])

    def test_quoting_and_lines(self):
        s = self.load(MINIMAL + "devices =\n    -device 'a,id=x' -device b\n    # note\n"
                      "    -object c\n")
        self.assertEqual(s.topology, self.ROOT_PORT + ["-device", "a,id=x", "-device", "b",
                                                       "-object", "c"])

    def test_bad_quoting(self):
        for key in ("topology", "devices"):
            with self.subTest(key), self.assertRaises(scenario.ScenarioError) as cm:
                self.load(MINIMAL + "%s = -device 'a\n" % key)
            self.assertIn(key, str(cm.exception))

    def test_set_devices_and_topology(self):
        s = self.load(MINIMAL, sets=["devices=-device ats-testdev,id=dut,bus=rp1"])
        self.assertEqual(s.topology, self.ROOT_PORT + self.DUT)
        s = self.load(MINIMAL, sets=["topology="])
        self.assertEqual(s.topology, [])

    def test_shipped_ids_unique(self):
        """A scenario that writes the default root port again next to it
        (in devices) would give QEMU two rp1s."""
        for s in scenario.load_dir(os.path.join(TOP, "scenarios")):
            with self.subTest(s.name):
                ids = [i for w in s.topology for i in re.findall(r"(?:^|,)id=([^,]+)", w)]
                self.assertEqual(len(ids), len(set(ids)), ids)


class Overrides(unittest.TestCase):
    """run-tests.sh --set: what a script changes without rewriting files."""
    load = Malformed.load

    def test_scenario_keys(self):
        s = self.load(MINIMAL + "timeout = 30\n",
                      sets=["timeout=900", "iommu=intremap=on,devtlb-timeout-ms=50"])
        self.assertEqual(s.timeout, 900)
        self.assertEqual(s.iommu, "intremap=on,devtlb-timeout-ms=50")

    def test_timeline_off(self):
        self.assertFalse(self.load(MINIMAL, sets=["timeline=off"]).timeline)

    def test_kernel_section_made_when_missing(self):
        s = self.load(MINIMAL, sets=["patched.expect=fail", "patched.signature=x"])
        self.assertEqual(s.expectation("patched").outcome, "fail")
        self.assertEqual(s.expectation("unpatched").outcome, "pass")

    def test_checked_like_the_file(self):
        with self.assertRaises(scenario.ScenarioError) as cm:
            self.load(MINIMAL, sets=["cycles=5"])
        self.assertIn("cycle and cycles go together", str(cm.exception))

    def test_unknown_key(self):
        for bad in ("colour=blue", "cycles", "sid.expect=pass", "patched.cycles=3"):
            with self.subTest(bad), self.assertRaises(scenario.ScenarioError) as cm:
                scenario.parse_override(bad)
            self.assertIn("expected KEY=VALUE", str(cm.exception))

    def test_value_may_hold_equals(self):
        self.assertEqual(scenario.parse_override("iommu=a=1,b=2"),
                         ("scenario", "iommu", "a=1,b=2"))


if __name__ == "__main__":
    unittest.main()
