"""A worker host of another replayswarm version, as far as the master can tell: a Locust worker
that says hello with the version given. Prints why the master refused it.

    python -m tests.cluster_stranger PORT VERSION
"""

import locust  # noqa: F401  (first: gevent's monkey-patching)

import os  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from locust import User, constant  # noqa: E402
from locust.env import Environment  # noqa: E402

from replayswarm.play import cluster  # noqa: E402


class Slot(User):
    wait_time = constant(3600)


runner = Environment(user_classes=[Slot]).create_worker_runner("127.0.0.1", int(sys.argv[1]))
said: list[str] = []
runner.register_message(cluster.REJECT, lambda environment, msg, **_: said.append(str(msg.data["why"])))
runner.send_message(cluster.HELLO, {"version": sys.argv[2], "processes": 1, "host": "stranger"})
with gevent.Timeout(20, False):
    while not said:
        gevent.sleep(0.1)
print(said[0] if said else "not refused", flush=True)
os._exit(0)  # nothing of this process is worth a clean Locust shutdown
