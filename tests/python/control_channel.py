# A Python suite's view of zk-curator's standalone testing-server, for
# tests/testing_server_example.rs: the helper that docs/testing.md shows (between the doc
# markers, checked to be identical), then a run against it with no ZooKeeper client library:
# the client port is probed with the four-letter word ruok. Any failure raises, so the script
# exits non-zero with the reason on stderr.
#
# Usage: python3 control_channel.py <path to testing-server>

import socket
import subprocess
import sys


# doc:begin
class TestingServer:
    """zk-curator's testing-server for a test, driven through its control port."""

    def __init__(self, binary, *flags):
        self.process = subprocess.Popen([binary, "--control-port", "0", *flags],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        self.connect_string = self.process.stdout.readline().strip()  # 127.0.0.1:PORT
        host, port = self.process.stdout.readline().split()[1].rsplit(":", 1)  # control ...
        self.control = socket.create_connection((host, int(port)))
        self.answers = self.control.makefile("r", encoding="utf-8")

    def call(self, command):
        """Any command (expire 0x..., pause, commit-latency 800, ...): the text after "ok"."""
        self.control.sendall((command + "\n").encode())
        answer = self.answers.readline().rstrip("\n")
        if answer != "ok" and not answer.startswith("ok "):
            raise RuntimeError(f"{command}: {answer}")
        return answer[3:]

    def stop(self): self.call("stop")  # data and sessions are kept
    def restart(self): self.call("restart")

    def close(self):
        self.call("quit")
        self.process.wait(timeout=10)
# doc:end


def ruok(connect_string):
    host, port = connect_string.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"ruok")
            return s.recv(16).decode()
    except OSError:
        return None


def main(binary):
    server = TestingServer(binary, "--curator", "--commit-latency", "2ms")
    assert ruok(server.connect_string) == "imok"
    assert server.call("sessions") == ""
    server.stop()
    assert ruok(server.connect_string) is None, "stopped: nothing listens"
    server.restart()
    assert ruok(server.connect_string) == "imok"
    assert server.call("expire-all") == "0"
    assert server.call("dump").startswith("/ ")
    try:
        server.call("expire 0x1")
        raise AssertionError("expiring an unknown session fails")
    except RuntimeError as e:
        print("refused", e)
    server.close()
    assert server.process.returncode == 0, server.process.returncode
    print("done")


if __name__ == "__main__":
    main(sys.argv[1])
