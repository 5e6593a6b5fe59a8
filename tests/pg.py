"""A throwaway PostgreSQL server for tests: initdb into a temporary directory, listening on a free
loopback port and a private socket, stopped by the test session that started it.

PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user (Debian's
package makes it), in a directory that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import free_port, wait_for_port

USER = "replayswarm"


def bin_dir() -> Path | None:
    """Debian's versioned directory, else whatever is on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Server:
    port: int
    directory: Path
    bin: Path
    as_user: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database on this server; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        subprocess.run([*self.as_user, str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name],
                       check=True, capture_output=True, timeout=30)
        return self.url(name)

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_server() -> Server:
    binaries = bin_dir()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (make test installs Debian's postgresql)")
    directory = Path(tempfile.mkdtemp(prefix="replayswarm-pg-"))
    as_user: list[str] = []
    if os.getuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = directory / "data"
    subprocess.run([*as_user, str(binaries / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    process = subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(directory / "log"), "-w", "start"],
                             capture_output=True, text=True, timeout=60)
    if process.returncode != 0:
        log = (directory / "log").read_text(errors="replace") if (directory / "log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {process.stderr}\n{log}")
    wait_for_port(port)
    return Server(port, directory, binaries, as_user)
