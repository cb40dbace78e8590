"""The harness's side of the agent protocol (guest-image/agent/ite-agent.c),
over a socketpair standing for the guest's second serial port:

    host:  SEQ COMMAND [ARGS...]
    agent: SEQ | OUTPUT LINE        zero or more
           SEQ ok [SUMMARY]   or   SEQ fail REASON
    and, once, as the agent starts: 0 hello ite-agent RELEASE
"""
import io
import os
import socket
import tempfile
import threading
import time
import unittest

from harness.machine import Agent, AgentError


class AgentTest(unittest.TestCase):
    def setUp(self):
        self.transcript = io.StringIO()
        self.agent = Agent("/nonexistent/agent.sock", self.transcript)
        self.agent.sock, self.guest = socket.socketpair()
        self.addCleanup(self.guest.close)
        self.addCleanup(self.agent.close)

    def reply(self, data):
        self.guest.sendall(data)

    def sent(self):
        """What the harness has sent so far."""
        self.guest.settimeout(0.5)
        out = b""
        try:
            while not out.endswith(b"\n"):
                chunk = self.guest.recv(4096)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out

    def command(self, words, secs=5.0, stop=None):
        return self.agent.command(words, time.monotonic() + secs, stop)


class Command(AgentTest):
    def test_ok(self):
        self.reply(b"1 ok pong\n")
        self.assertEqual(self.command(["ping"]), (True, "pong", []))
        self.assertEqual(self.sent(), b"1 ping\n")
        self.assertEqual(self.transcript.getvalue(), "> 1 ping\n< 1 ok pong\n")

    def test_ok_without_summary(self):
        self.reply(b"1 ok\n")
        self.assertEqual(self.command(["load-driver"]), (True, "", []))

    def test_words_joined_with_spaces(self):
        self.reply(b"1 ok\n")
        self.command(["sh", "grep", "-E", "'CPU|MSI'", "/proc/interrupts"])
        self.assertEqual(self.sent(), b"1 sh grep -E 'CPU|MSI' /proc/interrupts\n")

    def test_multi_line_output(self):
        self.reply(b"1 | 0000:01:00.0 ats cap=0x100 enabled=1\n"
                   b"1 | a line | with bars\n"
                   b"1 | \n"
                   b"1 ok 3 lines\n")
        self.assertEqual(self.command(["slot-status"]),
                         (True, "3 lines",
                          ["0000:01:00.0 ats cap=0x100 enabled=1", "a line | with bars", ""]))

    def test_fail(self):
        self.reply(b"1 | what it saw\n1 fail 0000:01:00.0: ATS is disabled, expected enabled\n")
        self.assertEqual(self.command(["ats-status", "0000:01:00.0", "enabled"]),
                         (False, "0000:01:00.0: ATS is disabled, expected enabled",
                          ["what it saw"]))

    def test_serial_line_endings_and_split_reads(self):
        # A tty may end lines with CRLF, and a reply comes in pieces.
        def trickle():
            for piece in (b"1 | par", b"tial\r\n1 ", b"ok do", b"ne\r\n"):
                time.sleep(0.05)
                self.guest.sendall(piece)
        t = threading.Thread(target=trickle)
        t.start()
        r = self.command(["ping"])
        t.join()
        self.assertEqual(r, (True, "done", ["partial"]))

    def test_stale_reply_skipped(self):
        # Command 1 timed out; its answer comes late, before command 2's.
        self.assertIsNone(self.command(["slow"], secs=0.2))
        self.reply(b"1 | stale output\n1 ok late\n2 | fresh output\n2 ok fresh\n")
        self.assertEqual(self.command(["ping"]), (True, "fresh", ["fresh output"]))
        self.assertEqual(self.sent(), b"1 slow\n2 ping\n")

    def test_lines_not_answering_the_command_skipped(self):
        cases = (
            # A stale fail does not fail the next command.
            (6, b"6 fail timed out\n7 ok\n", ""),
            # The agent restarted (or the hello came late): not an answer.
            (0, b"0 hello ite-agent 6.12.118-patched\n1 ok pong\n", "pong"),
            # Sequence numbers are matched whole, not as a prefix.
            (0, b"11 ok eleven\n1 ok one\n", "one"),
        )
        for seq, lines, summary in cases:
            with self.subTest(lines):
                self.agent.seq = seq
                self.reply(lines)
                self.assertEqual(self.command(["ping"]), (True, summary, []))

    def test_deadline_returns_none(self):
        self.reply(b"1 | still working\n")
        t0 = time.monotonic()
        self.assertIsNone(self.command(["wait-gone", "0000:01:00.0", "30"], secs=0.3))
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_stop_returns_none_early(self):
        t0 = time.monotonic()
        self.assertIsNone(self.command(["ping"], secs=30, stop=lambda: True))
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_channel_closed_while_waiting_raises(self):
        # QEMU went away in the middle of an answer.
        self.reply(b"1 | half an answer\n")
        self.guest.shutdown(socket.SHUT_WR)
        with self.assertRaisesRegex(AgentError, "agent channel closed"):
            self.command(["ping"])

    def test_channel_closed_before_sending_raises(self):
        # What the callers catch besides AgentError.
        self.guest.close()
        with self.assertRaises(OSError):
            self.command(["ping"])

    def test_not_connected_raises(self):
        agent = Agent("/nonexistent/agent.sock", io.StringIO())
        with self.assertRaisesRegex(AgentError, "not connected"):
            agent.command(["ping"], time.monotonic() + 1)


class WaitReady(AgentTest):
    def fake_agent(self, before_hello=b"", hello=b"0 hello ite-agent 6.12.118-patched\n",
                   answer=b"1 ok pong\n"):
        """The guest's side: it checks that nothing arrives before it says
        hello, then answers the ping. Returns a dict filled as it goes."""
        seen = {}

        def run():
            self.guest.settimeout(0.3)
            try:
                seen["before hello"] = self.guest.recv(4096)
            except socket.timeout:
                seen["before hello"] = b""
            self.guest.sendall(before_hello + hello)
            if hello:
                seen["after hello"] = self.sent()
                self.guest.sendall(answer)
        t = threading.Thread(target=run)
        t.start()
        self.addCleanup(t.join)
        return seen, t

    def test_hello_then_ping(self):
        seen, t = self.fake_agent()
        self.assertTrue(self.agent.wait_ready(time.monotonic() + 5))
        t.join()
        self.assertEqual(seen, {"before hello": b"", "after hello": b"1 ping\n"})

    def test_lines_before_hello_ignored(self):
        # Whatever the port carried before the agent started.
        seen, t = self.fake_agent(before_hello=b"\x00garbage\r\n1 ok not yet\n")
        self.assertTrue(self.agent.wait_ready(time.monotonic() + 5))
        t.join()
        self.assertEqual(seen["after hello"], b"1 ping\n")

    def test_ping_fails(self):
        seen, t = self.fake_agent(answer=b"1 fail not ready\n")
        self.assertFalse(self.agent.wait_ready(time.monotonic() + 5))

    def test_no_hello_by_the_deadline(self):
        seen, t = self.fake_agent(hello=b"")
        self.assertFalse(self.agent.wait_ready(time.monotonic() + 0.6))
        t.join()
        self.assertEqual(seen["before hello"], b"")


class Connect(unittest.TestCase):
    """Agent._connect on a real unix socket, as QEMU's chardev makes it."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ite-agent-")
        self.path = os.path.join(self.dir, "agent.sock")
        self.agent = Agent(self.path, io.StringIO())
        self.addCleanup(os.rmdir, self.dir)
        self.addCleanup(self.agent.close)

    def test_socket_appears_late(self):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(os.unlink, self.path)
        self.addCleanup(server.close)

        got = []

        def listen():
            time.sleep(0.2)
            server.bind(self.path)
            server.listen(1)
            conn, _ = server.accept()
            conn.sendall(b"0 hello ite-agent test\n")
            got.append(conn.recv(100))
            conn.sendall(b"1 ok pong\n")
            conn.close()
        t = threading.Thread(target=listen)
        t.start()
        self.assertTrue(self.agent.wait_ready(time.monotonic() + 5))
        t.join()
        self.assertEqual(got, [b"1 ping\n"])

    def test_socket_never_appears(self):
        with self.assertRaisesRegex(AgentError, "never appeared"):
            self.agent.wait_ready(time.monotonic() + 0.3)


if __name__ == "__main__":
    unittest.main()
