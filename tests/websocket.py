"""A WebSocket echo server and client on plain sockets, built on wsproto (mitmproxy's own)."""

from __future__ import annotations

import socket
import threading

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Message, Request, TextMessage


class EchoWebSocketServer:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, Request):
                        conn.sendall(ws.send(AcceptConnection()))
                    elif isinstance(event, TextMessage):
                        conn.sendall(ws.send(Message(data=event.data)))
                    elif isinstance(event, CloseConnection):
                        conn.sendall(ws.send(event.response()))
                        return


def websocket_roundtrip(proxy_port: int, server_port: int, messages: list[str]) -> list[str]:
    """Open ws://127.0.0.1:server_port/socket through the HTTP proxy, echo each message, close."""
    ws = WSConnection(ConnectionType.CLIENT)
    replies: list[str] = []
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as conn:
        conn.sendall(ws.send(Request(host=f"127.0.0.1:{server_port}", target=f"http://127.0.0.1:{server_port}/socket")))
        pending = list(messages)
        closed = False
        while not closed:
            data = conn.recv(65536)
            if not data:
                break
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection) and pending:
                    conn.sendall(ws.send(Message(data=pending.pop(0))))
                elif isinstance(event, TextMessage):
                    replies.append(event.data)
                    if pending:
                        conn.sendall(ws.send(Message(data=pending.pop(0))))
                    else:
                        conn.sendall(ws.send(CloseConnection(code=1000)))
                elif isinstance(event, CloseConnection):
                    closed = True
    return replies
