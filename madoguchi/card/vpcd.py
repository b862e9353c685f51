"""Serving a virtual card to PC/SC through the vsmartcard virtual reader (vpcd).

vpcd (Debian `vsmartcard-vpcd`, loaded by pcscd) listens on TCP; the card side connects to
it. Each message is a 2-byte big-endian length and a payload. A one-byte payload is a
control message — 0 power off, 1 power on, 2 reset, 4 "send the ATR" — anything longer is a
command APDU, answered with the response APDU. The readers show up in PC/SC as
"Virtual PCD 00 00", "Virtual PCD 00 01", … (port 35963, 35964, …).
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

VPCD_CTRL_OFF = 0
VPCD_CTRL_ON = 1
VPCD_CTRL_RESET = 2
VPCD_CTRL_ATR = 4
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 0x8C7B  # 35963, vpcd's default
READER_PREFIX = "Virtual PCD"
READER_CONF = Path("/etc/reader.conf.d/vpcd")


def configured_port(conf: Path = READER_CONF) -> int:
    """vpcd's port from pcscd's reader.conf (CHANNELID), else 35963."""
    try:
        text = conf.read_text()
    except OSError:
        return DEFAULT_PORT
    match = re.search(r"^\s*CHANNELID\s+(0x[0-9A-Fa-f]+|\d+)", text, re.M)
    return int(match.group(1), 0) if match else DEFAULT_PORT


def reader_name(port: int, base_port: int | None = None) -> str:
    index = port - (base_port or configured_port())
    return f"{READER_PREFIX} 00 {index:02X}" if index >= 0 else READER_PREFIX


def _quickack(sock: socket.socket) -> None:
    # vpcd writes the length and the payload separately; without an immediate ACK, Nagle on
    # its side and delayed ACK on ours add ~40 ms to every APDU. Linux resets QUICKACK after
    # each receive, so it is set again before each one.
    if hasattr(socket, "TCP_QUICKACK"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        _quickack(sock)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("vpcd closed the connection")
        buf += chunk
    return bytes(buf)


class VpcdServer:
    """Connects `card` (anything with power_on/power_off/transmit/atr) to vpcd and answers
    until `stop()` or the connection closes. `card` may be swapped between sessions."""

    def __init__(self, card, host: str = DEFAULT_HOST, port: int | None = None):
        self.card = card
        self.host = host
        self.port = port or configured_port()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self.connected = threading.Event()

    def connect(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._sock = socket.create_connection((self.host, self.port), timeout=2)
                self._sock.settimeout(0.5)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.connected.set()
                return
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise ConnectionError(f"cannot reach vpcd at {self.host}:{self.port} ({exc}); "
                                          "is pcscd running with vsmartcard-vpcd?") from None
                time.sleep(0.2)

    def serve_forever(self) -> None:
        if self._sock is None:
            self.connect()
        sock = self._sock
        assert sock is not None
        try:
            while not self._stop.is_set():
                try:
                    _quickack(sock)
                    header = sock.recv(2, socket.MSG_PEEK)
                except socket.timeout:
                    continue
                if not header:
                    raise ConnectionError("vpcd closed the connection")
                sock.settimeout(None)
                try:
                    length = int.from_bytes(_recv_exact(sock, 2), "big")
                    payload = _recv_exact(sock, length)
                finally:
                    sock.settimeout(0.5)
                reply = self.handle(payload)
                if reply is not None:
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)
        finally:
            self.close()

    def handle(self, payload: bytes) -> bytes | None:
        if len(payload) == 1:
            code = payload[0]
            if code == VPCD_CTRL_OFF:
                self.card.power_off()
            elif code in (VPCD_CTRL_ON, VPCD_CTRL_RESET):
                self.card.power_on()
            elif code == VPCD_CTRL_ATR:
                return self.card.atr
            return None
        return self.card.transmit(payload)

    def start_thread(self) -> threading.Thread:
        self.connect()
        thread = threading.Thread(target=self._run_quietly, name=f"vpcd-{self.port}", daemon=True)
        thread.start()
        return thread

    def _run_quietly(self) -> None:
        try:
            self.serve_forever()
        except (ConnectionError, OSError):
            pass

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self.connected.clear()


def port_from_env() -> int | None:
    value = os.environ.get("MADOGUCHI_VPCD_PORT")
    return int(value) if value else None


@contextmanager
def exclusive_use(timeout: float = 600.0, path: str | os.PathLike | None = None):
    """Holds a machine-wide lock while tests or benchmarks own pcscd and the vpcd slots, so
    two runs on one machine (say a developer's and CI's) take turns instead of talking to
    each other's cards. Raises TimeoutError when the other run does not finish in time."""
    lock_path = Path(path or Path(tempfile.gettempdir()) / "madoguchi-vpcd.lock")
    with open(lock_path, "a") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"another process holds {lock_path}") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
