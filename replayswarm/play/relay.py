"""The master side of a distributed run: a process between the play parent and Locust's master
runner. To the parent it is one more worker (the job list on stdin, then ("users", N) or
("rate", R); statistics deltas on its pipe); to the worker hosts it is the master.

`python -m replayswarm.play.relay FD BIND_HOST PORT EXPECT WAIT`. It waits up to WAIT seconds
for EXPECT worker hosts, says ("ready", members) or ("refused", why) to the parent (and ("note",
text) or ("warn", text) as hosts join or are refused), then relays
until every worker process is done or lost. A worker host that stops answering heartbeats is
lost within about 4 s: the parent hears ("lost", host, ids) and the others take over its users.
"""

import locust  # noqa: F401  (first: it monkey-patches the standard library for gevent)

import logging  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.os  # noqa: E402
import gevent.socket  # noqa: E402
from locust import User, constant  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.rpc import Message  # noqa: E402
from locust.runners import STATE_MISSING, MasterRunner  # noqa: E402

from . import cluster, messages  # noqa: E402
from .lifeline import die_with_parent  # noqa: E402


class Slot(User):
    """Locust needs a user class; replayswarm's virtual users run in the workers' own processes."""

    wait_time = constant(3600)


class Master(MasterRunner):
    """Locust's master, which lets no worker host in once the run has started: Locust would hand
    a latecomer users of its own accord."""

    started = False

    def handle_message(self, client_id: str, msg: Message) -> None:
        if msg.type == "client_ready" and self.started and client_id not in self.clients:
            self.server.send_to_client(Message("ack", {"index": -1}, client_id))  # it may say hello, to be refused
            return
        super().handle_message(client_id, msg)


class Relay:
    def __init__(self, out: int, bind_host: str, port: int) -> None:
        self.out = out
        self.port = port
        env = Environment(user_classes=[Slot])
        self.master: Master = env._create_runner(Master, master_bind_host=bind_host, master_bind_port=port)
        self.joined: list[cluster.Member] = []
        self.members: list[cluster.Member] = []
        self.live: set[int] = set()  # global ids of worker processes not done and not lost
        self.target: tuple[str, float] | None = None
        for name, listener in ((cluster.HELLO, self.hello), (cluster.DELTA, self.delta), (cluster.DONE, self.done),
                               (cluster.FAILED, self.failed)):
            self.master.register_message(name, listener)

    def tell(self, message: tuple[Any, ...]) -> None:
        try:
            messages.send(self.out, message)
        except OSError:
            self.halt()  # the parent is gone: nobody measures, so nothing more is sent

    # -- worker hosts ------------------------------------------------------------------------

    def hello(self, environment: Any, msg: Message, **_: Any) -> None:
        why = cluster.refusal(msg.data, self.master.started) or (None if msg.node_id in self.master.clients else "it is not registered")
        host = str(msg.data.get("host", "?"))
        if why is not None:
            self.master.send_message(cluster.REJECT, {"why": why}, client_id=msg.node_id)
            if msg.node_id in self.master.clients:
                self.master.handle_message(msg.node_id, Message("quit", None, msg.node_id))
            self.tell(("warn", f"worker {host} refused: {why}"))
            return
        self.joined.append(cluster.Member(msg.node_id, host, int(msg.data["processes"])))
        self.tell(("note", f"worker {host} joined with {msg.data['processes']} process(es)"))

    def delta(self, environment: Any, msg: Message, **_: Any) -> None:
        data = msg.data
        self.tell(("delta", int(data["worker"]), data["delta"], data["state"]))

    def done(self, environment: Any, msg: Message, **_: Any) -> None:
        self.live.discard(int(msg.data["worker"]))

    def failed(self, environment: Any, msg: Message, **_: Any) -> None:
        self.tell(("failed", int(msg.data["worker"]), str(msg.data["error"])))

    def watch(self) -> None:
        """Worker hosts that stopped answering heartbeats are lost: what they reported stays,
        their share of the load goes to the others."""
        lost: set[str] = set()
        while True:
            gevent.sleep(0.5)
            for m in self.members:
                client = self.master.clients.get(m.client)
                if m.client not in lost and (client is None or client.state == STATE_MISSING) and self.live & set(m.ids):
                    lost.add(m.client)
                    self.live -= set(m.ids)
                    self.tell(("lost", m.host, list(m.ids)))
                    self.aim()

    # -- the parent --------------------------------------------------------------------------

    def gather(self, expect: int, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while len(self.joined) < expect and time.monotonic() < deadline:
            gevent.sleep(0.1)
        if len(self.joined) < expect:
            port = "" if self.port == 5557 else f" --master-port {self.port}"
            self.tell(("refused", f"{len(self.joined)} of {expect} worker host(s) joined within {wait:g} s "
                                  f"(start them with `replayswarm worker --master-host HOST{port}`)"))
            return False
        self.master.started = True
        self.members = cluster.number(self.joined)
        self.live = {i for m in self.members for i in m.ids}
        self.tell(("ready", [(m.host, m.processes) for m in self.members]))
        return True

    def command(self, message: tuple[Any, ...]) -> None:
        if message[0] == "jobs":
            by_id = {job.worker: job for job in message[1]}
            for m in self.members:
                self.master.send_message(cluster.JOBS, {"ids": list(m.ids), "jobs": pickle.dumps([by_id[i] for i in m.ids])},
                                         client_id=m.client)
        elif message[0] in ("users", "rate"):
            self.target = (message[0], float(message[1]))
            self.aim()

    def aim(self) -> None:
        if self.target is None:
            return
        kind, value = self.target
        shares = cluster.spread(value, sorted(self.live), kind == "rate")
        for m in self.members:
            mine = {i: shares[i] for i in m.ids if i in shares}
            if mine:
                self.master.send_message(cluster.AIM, {"shares": mine, "rate": kind == "rate"}, client_id=m.client)

    def stop(self) -> None:
        self.master.send_message(cluster.STOP, {})

    def halt(self) -> None:
        self.master.send_message(cluster.HALT, {})
        self.live.clear()


def main() -> None:
    die_with_parent()
    logging.getLogger("locust").setLevel(logging.ERROR)  # replayswarm says what happens, once
    out, bind_host, port, expect, wait = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    relay = Relay(out, bind_host, port)
    gevent.signal_handler(signal.SIGUSR1, relay.stop)
    gevent.signal_handler(signal.SIGUSR2, relay.halt)
    gevent.signal_handler(signal.SIGTERM, relay.halt)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which decides
    commands = messages.Reader(0)
    gevent.os.make_nonblocking(0)

    def listen() -> None:
        while True:
            gevent.socket.wait_read(0)
            for message in commands.read():
                relay.command(message)
            if commands.closed:  # the parent is gone
                relay.halt()
                return

    try:
        if not relay.gather(expect, wait):
            return
        gevent.spawn(listen)
        gevent.spawn(relay.watch)
        while relay.live:
            gevent.sleep(0.1)
    finally:
        relay.master.quit()
        os.close(out)


if __name__ == "__main__":
    main()
