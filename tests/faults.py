"""A raw HTTP/1.1 server on loopback that misbehaves on purpose, by path.

/ok            a small text response
/bytes?n=N     N bytes of text, with Content-Length
/chunked?n=N   N bytes of text, chunked
/reset         reads the request, then resets the connection
/cut           promises 1000 bytes, sends 10, closes
/hang          reads the request, never answers
/500           a server error
/gzip-cut      a gzip body that ends before its end (Content-Length matches what is sent)
/drop          a small response, then the connection closes without a word (an idle keep-alive
               connection the server gave up on), gracefully: what arrives after is read and
               dropped, as nginx's lingering close does, so the client sees an end, not a reset
/eof?n=N       HTTP/1.0, N bytes with no length, ended by closing the connection
/flaky         every 20th request to it is read and then reset; the others get a small answer
/flood         an endless chunked body, sent as fast as the client takes it
/drip          an endless event stream: one event a second
/tail?n=N      N bytes of text, then `token=Tail9x7Q` at the very end
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
from urllib.parse import parse_qs, urlsplit

import brotli
import zstandard

CHUNK = b"0123456789abcdef" * 4096  # 64 KiB


def body_bytes(n: int) -> bytes:
    return (CHUNK * (n // len(CHUNK) + 1))[:n]


class FaultServer:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.served = 0
        self.resets = 0
        self.fresh_resets = 0  # of those, the first request of its connection: a client has nothing to retry
        self._flaky = 0
        self._lock = threading.Lock()
        self._local = threading.local()  # per connection thread: is this its first request?
        self.accept_encodings: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._converse(conn)
        except OSError:
            pass  # the client went away: what a server sees every day

    def _converse(self, conn: socket.socket) -> None:
        with conn:
            self._local.first = True
            buf = b""
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
                url = urlsplit(target)
                n = int(parse_qs(url.query).get("n", ["0"])[0])
                with self._lock:
                    self.served += 1
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "accept-encoding":
                        self.accept_encodings.append(value.strip())
                answered = self._respond(conn, url.path, n)
                self._local.first = False
                if not answered:
                    return

    def _respond(self, conn: socket.socket, path: str, n: int) -> bool:
        text = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        if path == "/ok":
            conn.sendall(text + b"Content-Length: 2\r\n\r\nok")
        elif path == "/bytes":
            conn.sendall(text + f"Content-Length: {n}\r\n\r\n".encode())
            for start in range(0, n, len(CHUNK)):
                conn.sendall(CHUNK[: min(len(CHUNK), n - start)])
        elif path == "/chunked":
            conn.sendall(text + b"Transfer-Encoding: chunked\r\n\r\n")
            for start in range(0, n, len(CHUNK)):
                piece = CHUNK[: min(len(CHUNK), n - start)]
                conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            conn.sendall(b"0\r\n\r\n")
        elif path == "/reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        elif path == "/cut":
            conn.sendall(text + b"Content-Length: 1000\r\n\r\n0123456789")
            return False
        elif path == "/500":
            conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\noops")
        elif path == "/gzip-cut":
            body = gzip.compress(b"hello world, " * 200)[:-20]
            conn.sendall(text + b"Content-Encoding: gzip\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        elif path in ("/br", "/zstd", "/br-garbage"):
            plain = b"<p>token=Zq81bX2pLmN0 " + b"compressed " * 300 + b"</p>"
            coding = path[1:].split("-")[0]
            body = {"/br": lambda: brotli.compress(plain), "/zstd": lambda: zstandard.ZstdCompressor().compress(plain),
                    "/br-garbage": lambda: b"this is not brotli at all"}[path]()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: " + coding.encode()
                         + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        elif path == "/drop":
            conn.sendall(text + b"Content-Length: 4\r\n\r\ndrop")
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(2)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            return False
        elif path == "/flaky":
            with self._lock:
                self._flaky += 1
                reset = self._flaky % 20 == 0
                self.resets += reset
                self.fresh_resets += reset and self._local.first
            if reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return False
            conn.sendall(text + b"Content-Length: 2\r\n\r\nok")
        elif path in ("/flood", "/drip"):
            kind = b"text/plain" if path == "/flood" else b"text/event-stream"
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + kind + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
            piece = CHUNK if path == "/flood" else b"data: tick\n\n"
            try:
                while not self._stop.is_set():
                    conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    if path == "/drip":
                        self._stop.wait(1)
            except OSError:
                pass
            return False
        elif path == "/tail":
            tail = b" token=Tail9x7Q"
            conn.sendall(text + f"Content-Length: {n + len(tail)}\r\n\r\n".encode())
            for start in range(0, n, len(CHUNK)):
                conn.sendall(CHUNK[: min(len(CHUNK), n - start)])
            conn.sendall(tail)
        elif path == "/eof":
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body_bytes(n))
            return False
        elif path == "/hang":
            self._stop.wait(60)
            return False
        else:
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return True
