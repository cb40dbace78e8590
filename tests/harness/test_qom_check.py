"""The qom-check step (PATH PROPERTY OP VALUE): a QOM property read on the
host, compared with a value; malformed steps are rejected when the file is
loaded, and a failed check says what the property was."""
import unittest

from harness import guest_log, runner, scenario
from harness.runner import CellResult, judge
from harness.scenario import Expectation, ScenarioError


class FakeMachine:
    """Answers qom-get from a dict of (path, property) -> value."""

    def __init__(self, props):
        self.props = props
        self.calls = []

    def execute(self, command, args):
        self.calls.append((command, args))
        key = (args["path"], args["property"])
        if key not in self.props:
            return False, "Property '%s' not found" % args["property"]
        return True, self.props[key]


def step(text):
    return scenario.parse_step(text, "t.scenario")


def run(text, props):
    m = FakeMachine(props)
    return runner._run_step(m, step(text), deadline=0), m


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

    def test_needs_four_words(self):
        self.rejected("qom-check /machine/peripheral/dut translation-ur 0",
                      "qom-check PATH PROPERTY OP VALUE")
        self.rejected("qom-check /machine/peripheral/dut x == 0 1",
                      "qom-check PATH PROPERTY OP VALUE")

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
