"""The failure diagnosis (harness/diagnosis.py) with a fake machine: what
goes to diagnosis.txt, and that it stops asking whoever stopped answering."""
import os
import tempfile
import unittest

from harness import diagnosis
from harness.machine import AgentError

REGISTERS = "CPU#0\nRAX=0 RBX=0\nRIP=ffffffff81000000 RFL=00000246\nEFER=0 HLT=1\n"


class FakeAgent:
    def __init__(self, answers):
        self.answers = list(answers)
        self.asked = []

    def command(self, words, deadline):
        self.asked.append(words)
        r = self.answers.pop(0)
        if isinstance(r, Exception):
            raise r
        return r


class FakeMachine:
    def __init__(self, agent, qmp=None):
        self.agent = agent
        self.qmp = qmp or (lambda hmp: (True, REGISTERS if "registers" in hmp
                                        else "LVTT 0x000200ec\nISR 236\n"))
        self.asked = []

    def execute(self, command, args):
        assert command == "human-monitor-command"
        self.asked.append(args["command-line"])
        return self.qmp(args["command-line"])


class Diagnose(unittest.TestCase):
    def diagnose(self, m):
        with tempfile.TemporaryDirectory() as d:
            diagnosis.diagnose(m, d)
            with open(os.path.join(d, diagnosis.DIAGNOSIS_FILE)) as f:
                return f.read()

    def test_qemu_guest_qemu(self):
        agent = FakeAgent([(True, "", ["slot 1: ok"]), (False, "exit 1", []),
                           (True, "", ["1 irq/24-pciehp S irq_thread"]),
                           AgentError("agent channel closed")])
        m = FakeMachine(agent)
        text = self.diagnose(m)
        hmp = [h for h, _ in diagnosis.QEMU_DIAGNOSIS]
        self.assertEqual(m.asked, hmp + hmp)
        self.assertEqual(agent.asked, [w for _, w in diagnosis.DIAGNOSIS])
        self.assertIn("qemu info registers -a (first):\n  CPU#0\n"
                      "  RIP=ffffffff81000000 RFL=00000246\n  EFER=0 HLT=1\n", text)
        self.assertNotIn("RAX", text)
        self.assertIn("slots:\n  slot 1: ok\ninterrupts: failed: exit 1\n", text)
        self.assertIn("timer interrupts a second later: failed: harness: agent channel "
                      "closed\n", text)
        self.assertTrue(text.endswith("qemu info lapic 1 (after the guest's answers):\n"
                                      "  LVTT 0x000200ec\n  ISR 236\n"))

    def test_guest_stops_answering(self):
        agent = FakeAgent([(True, "", []), None])
        text = self.diagnose(FakeMachine(agent))
        self.assertEqual(len(agent.asked), 2)
        self.assertIn("interrupts: the guest did not answer\n", text)

    def test_qmp_fails(self):
        def qmp(hmp):
            raise ConnectionResetError("gone")
        m = FakeMachine(FakeAgent([(True, "", [])] * 4), qmp)
        text = self.diagnose(m)
        self.assertEqual(m.asked, ["info registers -a"])     # not asked again
        self.assertTrue(text.startswith("qemu info registers -a (first): QMP failed: "
                                        "ConnectionResetError: gone\n"))


if __name__ == "__main__":
    unittest.main()
