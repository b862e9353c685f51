"""Transports: one interface (`transmit(raw) -> raw`) in front of a PC/SC reader (pyscard)
or a virtual card in this process. Everything above — `Channel`, the JPKI and text
applications, the CLI — runs unchanged on either.

A plug point: `Transport` is the base, `TRANSPORTS` the registry of openers by name
(`open_transport("pcsc", reader, data_dir)`). A virtual card served through vpcd
(`madoguchi card serve-pcsc`) is not a transport of its own: clients reach it as `pcsc`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from madoguchi.registry import Registry

from . import apdu as A
from . import tlv

DEFAULT_CHUNK = 256  # READ BINARY Le; 256 is sent as Le=00


class Transport(Protocol):
    def transmit(self, raw: bytes) -> bytes: ...

    def close(self) -> None: ...


class TransportError(A.CardError):
    """The reader or the card went away, or no reader/card was found."""


class NoSuchTarget(ValueError):
    """What the transport was asked to open does not exist (a usage error, not the card's)."""


class VirtualTransport:
    """A virtual card in this process; powered on when opened."""

    def __init__(self, card):
        self.card = card
        self.atr = card.power_on()

    def transmit(self, raw: bytes) -> bytes:
        return self.card.transmit(bytes(raw))

    def close(self) -> None:
        self.card.power_off()


class PcscTransport:
    """A card in a PC/SC reader, through pyscard (the optional `pcsc` extra)."""

    def __init__(self, reader_name: str | None = None, timeout: float = 0.0):
        _require_pyscard()
        reader = find_reader(reader_name, timeout)
        from smartcard.Exceptions import CardConnectionException, NoCardException

        connection = reader.createConnection()
        deadline = time.monotonic() + timeout
        while True:
            try:
                connection.connect()
                break
            except (NoCardException, CardConnectionException) as exc:
                if time.monotonic() >= deadline:
                    raise TransportError(f"no card in reader {reader}: {exc}") from None
                time.sleep(0.1)
        self.reader = str(reader)
        self.connection = connection
        self.atr = bytes(connection.getATR())

    def transmit(self, raw: bytes) -> bytes:
        from smartcard.Exceptions import CardConnectionException

        try:
            data, sw1, sw2 = self.connection.transmit(list(raw))
        except CardConnectionException as exc:
            raise TransportError(f"reader {self.reader}: {exc}") from None
        return bytes(data) + bytes([sw1, sw2])

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        for step in ("disconnect", "release"):
            try:
                getattr(connection, step, lambda: None)()
            except Exception:  # noqa: BLE001 — the card or pcscd may already be gone
                pass


def _require_pyscard() -> None:
    try:
        import smartcard.System  # noqa: F401
    except ImportError:
        raise TransportError("PC/SC needs pyscard: pip install 'madoguchi[pcsc]'") from None


def reader_names() -> list[str]:
    _require_pyscard()
    from smartcard.System import readers

    try:
        return [str(r) for r in readers()]
    except Exception as exc:  # noqa: BLE001 — pyscard raises several kinds when pcscd is absent
        raise TransportError(f"cannot reach PC/SC (is pcscd running?): {exc}") from None


def wait_for_card(name: str | None = None, timeout: float = 30.0) -> PcscTransport:
    """Waits up to `timeout` seconds for a card in the reader named `name…` (any reader when
    None) and connects to it."""
    return PcscTransport(name, timeout=timeout)


def find_reader(name: str | None, timeout: float = 0.0):
    """The first reader whose name starts with `name` (any reader with a card when None)."""
    from smartcard.System import readers

    deadline = time.monotonic() + timeout
    while True:
        try:
            found = readers()
        except Exception as exc:  # noqa: BLE001
            raise TransportError(f"cannot reach PC/SC (is pcscd running?): {exc}") from None
        matches = [r for r in found if name is None or str(r).startswith(name)]
        if name is None:
            with_card = [r for r in matches if _has_card(r)]
            if with_card:
                return with_card[0]
        elif matches:
            return matches[0]
        if time.monotonic() >= deadline:
            what = f"named {name!r}…" if name else "with a card"
            raise TransportError(f"no PC/SC reader {what} (found: {', '.join(map(str, found)) or 'none'})")
        time.sleep(0.1)


class CardPresence:
    """When a card is put on or taken off one PC/SC reader: waits inside pcscd
    (SCardGetStatusChange) instead of connecting to poll, so a hands-free gate decides once
    per insertion and a card left on the reader is not read again and again."""

    def __init__(self, reader_name: str | None = None, timeout: float = 0.0):
        _require_pyscard()
        from smartcard import scard

        self._scard = scard
        deadline = time.monotonic() + timeout
        while True:
            names = [n for n in reader_names() if reader_name is None or n.startswith(reader_name)]
            if names:
                break
            if time.monotonic() >= deadline:
                raise TransportError(f"no PC/SC reader named {reader_name!r}…" if reader_name else "no PC/SC reader")
            time.sleep(0.1)
        self.reader = names[0]
        hresult, self._context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise TransportError(f"cannot reach PC/SC: {scard.SCardGetErrorMessage(hresult)}")
        self._state = scard.SCARD_STATE_UNAWARE

    @property
    def present(self) -> bool:
        return bool(self._state & self._scard.SCARD_STATE_PRESENT)

    def wait(self, present: bool, timeout: float) -> bool:
        """Waits up to `timeout` seconds for the reader to hold a card (`present`) or none;
        True when it does."""
        scard = self._scard
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0, int((deadline - time.monotonic()) * 1000))
            hresult, states = scard.SCardGetStatusChange(self._context, remaining, [(self.reader, self._state)])
            if hresult == scard.SCARD_S_SUCCESS:
                self._state = states[0][1] & ~scard.SCARD_STATE_CHANGED
            elif hresult != scard.SCARD_E_TIMEOUT:
                raise TransportError(f"reader {self.reader}: {scard.SCardGetErrorMessage(hresult)}")
            if self.present == present:
                return True
            if hresult == scard.SCARD_E_TIMEOUT or time.monotonic() >= deadline:
                return False

    def close(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            self._scard.SCardReleaseContext(context)


def _has_card(reader) -> bool:
    try:
        connection = reader.createConnection()
        connection.connect()
        connection.disconnect()
        return True
    except Exception:  # noqa: BLE001
        return False


class Channel:
    """APDU exchange over a transport: typed errors, 61xx/6Cxx handling, whole-file reads."""

    def __init__(self, transport: Transport, chunk: int = DEFAULT_CHUNK):
        self.transport = transport
        self.chunk = chunk

    def exchange(self, command: A.Command) -> A.Response:
        response = A.Response.parse(self.transport.transmit(command.to_bytes()))
        if response.sw1 == 0x6C:  # wrong Le: resend with the exact length
            command = A.Command(command.cla, command.ins, command.p1, command.p2, command.data, response.sw2 or 256)
            response = A.Response.parse(self.transport.transmit(command.to_bytes()))
        data = response.data
        guard = 0
        while response.sw1 == 0x61 and guard < 64:  # more data: GET RESPONSE
            response = A.Response.parse(self.transport.transmit(
                A.Command(A.CLA_ISO, A.INS_GET_RESPONSE, 0, 0, le=response.sw2 or 256).to_bytes()))
            data += response.data
            guard += 1
        return A.Response(data, response.sw)

    def send(self, command: A.Command) -> bytes:
        return self.exchange(command).check()

    def select_aid(self, aid: bytes) -> None:
        self.send(A.select_aid(aid))

    def select_ef(self, ef: int) -> None:
        self.send(A.select_ef(ef))

    def read(self, offset: int, length: int) -> bytes:
        response = self.exchange(A.read_binary(offset, length))
        if response.sw == A.SW_EOF_WARNING:
            return response.data
        data = response.check()
        if len(data) > length:
            raise A.MalformedAPDU(f"card returned {len(data)} bytes for Le={length}")
        return data

    def read_tlv_file(self, ef: int, head: int = 8) -> bytes:
        """Selects `ef` and reads the one DER/BER object it holds, with its length taken from
        the header and the rest read in chunks by offset (never one blind 256-byte read)."""
        self.select_ef(ef)
        first = self.read(0, head)
        if not first:
            raise A.MalformedAPDU(f"EF {ef:04X} is empty")
        total = tlv.total_length(first)
        data = bytearray(first[:total])
        while len(data) < total:
            want = min(self.chunk, total - len(data))
            if len(data) > 0x7FFF:
                raise A.MalformedAPDU(f"EF {ef:04X}: object longer than the 15-bit offset range")
            piece = self.read(len(data), want)
            if not piece:
                raise A.MalformedAPDU(f"EF {ef:04X} ends after {len(data)} of {total} bytes")
            data += piece[:want]
        return bytes(data)

    def read_fixed(self, ef: int, length: int) -> bytes:
        """Selects `ef` and reads exactly `length` bytes (files of fixed size)."""
        self.select_ef(ef)
        data = bytearray()
        while len(data) < length:
            piece = self.read(len(data), min(self.chunk, length - len(data)))
            if not piece:
                break
            data += piece
        if len(data) != length:
            raise A.MalformedAPDU(f"EF {ef:04X}: {len(data)} bytes, expected {length}")
        return bytes(data)

    def close(self) -> None:
        self.transport.close()


# -- the registry -----------------------------------------------------------------------

# An opener: (target, data directory) -> an open Transport. The target is what follows
# the transport's command-line option (a card directory or name, a reader name or None).
Opener = Callable[[str | None, Path], Transport]
TRANSPORTS: Registry[Opener] = Registry("card transport")


def open_transport(name: str, target: str | None, data_dir: Path) -> Transport:
    """Raises registry.UnknownName (listing the known transports) for an unknown name."""
    return TRANSPORTS.get(name)(target, data_dir)


def virtual_card_directory(value: str, data_dir: Path) -> Path:
    """A virtual card is a directory; a bare name means <data dir>/cards/<name>."""
    if os.sep in value or value.startswith(".") or Path(value).exists():
        return Path(value)
    return Path(data_dir) / "cards" / value


@TRANSPORTS.register("pcsc", "a real card in a PC/SC reader (pyscard); target: the reader name's start")
def open_pcsc(target: str | None, data_dir: Path) -> Transport:
    return PcscTransport(target or None, timeout=5.0)


@TRANSPORTS.register("virtual", "development: a virtual card from the development CA, in a directory; "
                                "never a real resident's card")
def open_virtual(target: str | None, data_dir: Path) -> Transport:
    from .virtual import VirtualCard

    path = virtual_card_directory(target or "", data_dir)
    try:
        return VirtualTransport(VirtualCard(path))
    except FileNotFoundError:
        raise NoSuchTarget(f"no virtual card in {path}") from None
