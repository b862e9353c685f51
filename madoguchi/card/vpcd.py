"""Serving a virtual card to PC/SC through the vsmartcard virtual reader (vpcd).

vpcd (Debian `vsmartcard-vpcd`, loaded by pcscd) listens on TCP; the card side connects to
it. Each message is a 2-byte big-endian length and a payload. A one-byte payload is a
control message — 0 power off, 1 power on, 2 reset, 4 "send the ATR" — anything longer is a
command APDU, answered with the response APDU. The readers show up in PC/SC as
"Virtual PCD 00 00", "Virtual PCD 00 01", … (port 35963, 35964, …).

35963 lies inside Linux's ephemeral port range (32768–60999): when any outgoing connection on
the machine happens to hold that local port as pcscd starts, vpcd cannot listen ("Address
already in use") and pcscd runs on without the reader. `private_pcscd` — the pcscd that tests,
benchmarks and a developer's machine start themselves — therefore gives vpcd a port outside
that range through a reader.conf of its own, and says the port in MADOGUCHI_VPCD_PORT.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import subprocess
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
DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PORT_ENV = "MADOGUCHI_VPCD_PORT"
SLOTS = 2  # vpcd serves two readers per reader.conf entry: the port and the next one


def configured_port(conf: Path | None = None) -> int:
    """vpcd's first port: MADOGUCHI_VPCD_PORT when set (a `private_pcscd` runs), else CHANNELID
    from pcscd's reader.conf (`conf`, by default the system one), else 35963."""
    if conf is None:
        if os.environ.get(PORT_ENV):
            return int(os.environ[PORT_ENV])
        conf = READER_CONF
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


class PcscdError(RuntimeError):
    """pcscd could not be started with the vpcd reader (the message says why)."""


def ephemeral_ports() -> range:
    """The local ports the kernel hands to outgoing connections."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def _can_listen(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as vpcd does
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def quiet_port(candidates=(29963, 24963, 19963, 61963)) -> int:
    """A first vpcd port that no outgoing connection can take: outside the ephemeral range and
    free now, for it and the next slot."""
    ephemeral = ephemeral_ports()
    for first in candidates:
        ports = range(first, first + SLOTS)
        if all(p not in ephemeral and _can_listen(p) for p in ports):
            return first
    raise PcscdError(f"no free port for vpcd outside the ephemeral range {ephemeral.start}-{ephemeral.stop - 1}")


def write_reader_conf(directory: Path, port: int) -> Path:
    """A reader.conf.d holding one vpcd entry listening on `port` (and the next slot)."""
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "vpcd"
    conf.write_text(f'FRIENDLYNAME "{READER_PREFIX}"\nDEVICENAME   /dev/null:0x{port:04X}\n'
                    f"LIBPATH      {DRIVER}\nCHANNELID    0x{port:04X}\n")
    return conf


def virtual_readers() -> list[str]:
    try:
        from smartcard.System import readers

        return [str(r) for r in readers() if str(r).startswith(READER_PREFIX)]
    except Exception:  # noqa: BLE001 — pcscd not running (yet)
        return []


@contextmanager
def private_pcscd(timeout: float = 60.0):
    """Runs pcscd in the foreground with a reader.conf of its own (vpcd on a `quiet_port`) until
    the block ends, with MADOGUCHI_VPCD_PORT set to that port meanwhile; yields the port.
    Needs pcscd not to be running already (hold `exclusive_use` around it). Raises PcscdError
    with pcscd's last words when it exits or the reader does not appear within `timeout`."""
    exe = shutil.which("pcscd") or ("/usr/sbin/pcscd" if os.path.exists("/usr/sbin/pcscd") else None)
    if exe is None:
        raise PcscdError("pcscd is not installed (Debian packages pcscd, vsmartcard-vpcd)")
    if not DRIVER.exists():
        raise PcscdError("the vpcd driver is not installed (Debian package vsmartcard-vpcd)")
    port = quiet_port()
    with tempfile.TemporaryDirectory(prefix="madoguchi-pcscd-") as tmp, \
            tempfile.TemporaryFile() as log:  # a pipe could fill up and stall pcscd
        write_reader_conf(Path(tmp) / "reader.conf.d", port)
        proc = subprocess.Popen([exe, "--foreground", "--config", str(Path(tmp) / "reader.conf.d")],
                                stdout=log, stderr=subprocess.STDOUT)
        previous = os.environ.get(PORT_ENV)
        os.environ[PORT_ENV] = str(port)
        try:
            # Well under a second on an idle machine; a CI run beside benchmarks of 10M-serial
            # CRLs once took more than 15 s.
            deadline = time.monotonic() + timeout
            while not virtual_readers():
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    said = " / ".join(log.read().decode(errors="replace").strip().splitlines()[-3:])
                    why = (f"pcscd exited with {proc.returncode}" if proc.poll() is not None
                           else f"no {READER_PREFIX!r} reader appeared within {timeout:.0f} s")
                    raise PcscdError(f"{why} (vpcd port {port}): {said or 'pcscd said nothing'}")
                time.sleep(0.1)
            yield port
        finally:
            if previous is None:
                os.environ.pop(PORT_ENV, None)
            else:
                os.environ[PORT_ENV] = previous
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


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
