"""The qom-check step (PATH PROPERTY OP VALUE): a QOM property read on the
host, compared with a value; malformed steps are rejected when the file is
loaded, and a failed check says what the property was."""
import time
import unittest

from harness import guest_log, runner, scenario
from harness.runner import CellResult, judge
from harness.scenario import Expectation, ScenarioError


class FakeMachine:
    """Answers qom-get from a dict of (path, property) -> value, or -> a
    list of the values of successive reads (the last one repeats)."""

    def __init__(self, props):
        self.props = props
        self.calls = []
        self.polls = 0

    def execute(self, command, args):
        self.calls.append((command, args))
        key = (args["path"], args["property"])
        if key not in self.props:
            return False, "Property '%s' not found" % args["property"]
        v = self.props[key]
        if isinstance(v, list):
            return True, v.pop(0) if len(v) > 1 else v[0]
        return True, v

    def alive(self):
        return True

    def poll_events(self, wait):
        self.polls += 1


def step(text):
    return scenario.parse_step(text, "t.scenario")


def run(text, props, deadline=None):
    m = FakeMachine(props)
    if deadline is None:
        deadline = time.monotonic() + 10
    return runner._run_step(m, step(text), deadline=deadline), m


IOMMU = "/machine/peripheral/iommu"


class Parse(unittest.TestCase):
    def test_words(self):
        s = step("qom-check /machine/peripheral/dut translation-ur == 0")
        self.assertEqual(s.kind, "qom-check")
        self.assertEqual(s.words, ["/machine/peripheral/dut", "translation-ur", "==", "0"])

    def rejected(self, text, message):
        with self.assertRaises(ScenarioError) as cm:
            step(text)
        self.assertIn(message, str(cm.exception))

    def test_needs_four_or_five_words(self):
        self.rejected("qom-check /machine/peripheral/dut translation-ur 0",
                      "qom-check PATH PROPERTY OP VALUE [SECONDS]")
        self.rejected("qom-check /machine/peripheral/dut x == 0 1 2",
                      "qom-check PATH PROPERTY OP VALUE [SECONDS]")

    def test_seconds(self):
        self.assertEqual(step("qom-check /d x > 0 5").words[4], "5")
        self.rejected("qom-check /d x > 0 soon", "SECONDS must be a positive number")
        self.rejected("qom-check /d x > 0 0", "SECONDS must be a positive number")

    def test_unknown_op(self):
        self.rejected("qom-check /p x =~ 0", "OP one of == != < <= > >=")

    def test_ordering_needs_a_number(self):
        self.rejected("qom-check /p x > abc", "> compares numbers")
        self.rejected("qom-check /p x <= true", "<= compares numbers")

    def test_values(self):
        self.assertEqual(scenario.qom_value("0"), 0)
        self.assertEqual(scenario.qom_value("true"), True)
        self.assertEqual(scenario.qom_value("abc"), "abc")
        self.assertEqual(scenario.qom_value('"0"'), "0")


class Run(unittest.TestCase):
    def test_holds(self):
        why, m = run("qom-check %s fence-violations == 0" % IOMMU,
                     {(IOMMU, "fence-violations"): 0})
        self.assertIsNone(why)
        self.assertEqual(m.calls, [("qom-get", {"path": IOMMU,
                                                "property": "fence-violations"})])

    def test_fails_with_the_value(self):
        why, _ = run("qom-check %s fence-violations == 0" % IOMMU,
                     {(IOMMU, "fence-violations"): 3})
        self.assertEqual(why, "qom-check: %s fence-violations is 3, expected == 0" % IOMMU)

    def test_each_op(self):
        for op, holds in (("==", False), ("!=", True), ("<", False), ("<=", False),
                          (">", True), (">=", True)):
            why, _ = run("qom-check /d n %s 4" % op, {("/d", "n"): 5})
            self.assertEqual(why is None, holds, op)

    def test_bool(self):
        self.assertIsNone(run("qom-check /d drop-inval == true", {("/d", "drop-inval"): True})[0])
        self.assertIsNotNone(run("qom-check /d drop-inval == true",
                                 {("/d", "drop-inval"): False})[0])

    def test_ordering_of_a_non_number(self):
        why, _ = run("qom-check /d s > 1", {("/d", "s"): "x"})
        self.assertEqual(why, 'qom-check: /d s is "x", not a number')

    def test_missing_property(self):
        why, _ = run("qom-check %s fence-violations == 0" % IOMMU, {})
        self.assertRegex(why, "^qom-check '.*': qom-get failed: Property "
                         "'fence-violations' not found$")


class Wait(unittest.TestCase):
    def test_reads_until_it_holds(self):
        why, m = run("qom-check /d inval-received > 2 5", {("/d", "inval-received"): [0, 1, 3]})
        self.assertIsNone(why)
        self.assertEqual(len(m.calls), 3)
        self.assertEqual(m.polls, 2)

    def test_without_seconds_reads_once(self):
        why, m = run("qom-check /d inval-received > 2", {("/d", "inval-received"): [0, 3]})
        self.assertEqual(why, "qom-check: /d inval-received is 0, expected > 2")
        self.assertEqual(len(m.calls), 1)

    def test_gives_up_with_the_last_value(self):
        why, m = run("qom-check /d inval-received > 2 0.05", {("/d", "inval-received"): [0, 1]})
        self.assertEqual(why, "qom-check: /d inval-received is 1, expected > 2 after 0.05s")
        self.assertGreater(m.polls, 1)

    def test_cell_deadline_bounds_it(self):
        t0 = time.monotonic()
        why, _ = run("qom-check /d n > 2 60", {("/d", "n"): 0}, deadline=t0 + 0.05)
        self.assertIsNotNone(why)
        self.assertLess(time.monotonic() - t0, 5)


class ExpectedFailure(unittest.TestCase):
    def test_signature_may_be_the_finding(self):
        """A cell expected to fail a qom-check meets its expectation from
        the harness's reason: the failure is no guest log line."""
        why, _ = run("qom-check %s fence-violations == 0" % IOMMU,
                     {(IOMMU, "fence-violations"): 7})
        exp = Expectation("fail", r"qom-check: \S+ fence-violations is [1-9]")
        res = CellResult("s", "patched", "fail")
        judge(res, ("fail", why), guest_log.check("[1.0] ok\n", (), (), exp.signature, 1), exp)
        self.assertTrue(res.met)
        self.assertIn("fence-violations is 7", res.evidence)


if __name__ == "__main__":
    unittest.main()
