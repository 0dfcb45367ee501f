"""A sales agent that misbehaves at the HTTP level, for the fault tests: it hangs (reads the request,
never answers), answers 503, or answers 200 with garbage. Counts what it saw."""

from __future__ import annotations

import socket
import threading

ANSWERS = {
    "5xx": b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n"
           b"Connection: close\r\n\r\nbusy",
    "garbage": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n"
               b"Connection: close\r\n\r\n{not json at all\x00\xff\x01",
}


class BadAgent:
    """mode: "hang", "5xx" or "garbage". `url` is its /mcp endpoint."""

    def __init__(self, mode: str):
        self.mode = mode
        self.connections = 0  # accepted so far
        self.open = 0  # open right now
        self.max_open = 0  # the most open at once: how many calls to this agent were in flight together
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self.open += 1
                self.max_open = max(self.max_open, self.open)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(120)
            conn.recv(65536)
            if self.mode == "hang":
                while conn.recv(65536):  # until the client gives up and closes
                    pass
            else:
                conn.sendall(ANSWERS[self.mode])
        except OSError:
            pass
        finally:
            with self._lock:
                self.open -= 1
            try:
                conn.close()
            except OSError:
                pass

    def stop(self) -> None:
        self._stopped.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
