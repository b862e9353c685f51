"""Fixtures for the card layer: a development CA and one issued virtual card per session
(RSA key generation is slow), copied fresh for every test; and a PC/SC stack — pcscd with
vsmartcard's vpcd — that the tests start and stop themselves.

When pcscd cannot be started the PC/SC tests skip locally but FAIL under CI=true.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time

import pytest

from madoguchi.card import virtual
from madoguchi.card.transport import Channel, PcscTransport, VirtualTransport
from madoguchi.pki.devca import DevCA

PIN = "1234"
PASSWORD = "ABC123"
TEXT_PIN = "5678"
HOLDER = virtual.Holder(name="窓口\u3000花子", address="東京都千代田区霞が関２丁目１番２号",
                        birth=dt.date(1990, 1, 2), sex="2")


@pytest.fixture(scope="session")
def dev_ca(tmp_path_factory) -> DevCA:
    return DevCA.open(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def card_template(tmp_path_factory, dev_ca):
    directory = tmp_path_factory.mktemp("template") / "card"
    return virtual.issue(directory, dev_ca, HOLDER, PIN, PASSWORD, TEXT_PIN)


@pytest.fixture
def card_dir(tmp_path, card_template):
    target = tmp_path / "card"
    shutil.copytree(card_template, target)
    return target


@pytest.fixture
def card_state(card_dir):
    import json

    return json.loads((card_dir / "card.json").read_text())


def _pcsc_unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"PC/SC stack unavailable under CI: {reason}")
    pytest.skip(f"PC/SC stack unavailable: {reason}")


@pytest.fixture(scope="module")
def pcscd():
    """A running pcscd that has loaded vpcd: reused when already running, else started here
    (`private_pcscd`: vpcd on a port no outgoing connection can hold — on vpcd's default port,
    one run in a few lost the reader to a PostgreSQL connection's local port).
    Per module, not per session: the machine-wide lock is held only while one module talks to
    the reader, so the SQLite and PostgreSQL runs of `make test` (which run side by side) take
    turns module by module instead of one waiting for the other's whole run."""
    try:
        import smartcard  # noqa: F401
    except ImportError:
        _pcsc_unavailable("pyscard is not installed")
    from madoguchi.card import vpcd

    with vpcd.exclusive_use():  # another test run on this machine waits for us, and we for it
        if vpcd.virtual_readers():
            yield None
            return
        try:
            with vpcd.private_pcscd() as port:
                yield port
        except vpcd.PcscdError as exc:  # raised while starting only: a test's failure is not thrown in here
            _pcsc_unavailable(str(exc))


class SwappableCard:
    """What vpcd talks to: forwards to the current test's virtual card. With no card the slot
    is still connected (a card that answers nothing); `take_away` disconnects it — vpcd shows
    a card present exactly while a virtual card is connected — and `put` connects it again, as
    a card lifted off and laid on a reader (a hands-free gate waits for that)."""

    def __init__(self):
        self.card = None
        self.server = None  # the VpcdServer connecting this slot to vpcd
        self.connect = None  # makes and starts a new one

    def take_away(self):
        self.card = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def put(self, card):
        self.card = card
        card.power_on()
        if self.server is None:
            self.server = self.connect()

    def power_on(self):
        return self.card.power_on() if self.card else b""

    def power_off(self):
        if self.card:
            self.card.power_off()

    @property
    def atr(self):
        from madoguchi.card.constants import ATR

        return ATR

    def transmit(self, raw):
        if self.card is None:
            return b"\x6f\x00"
        return self.card.transmit(raw)


@pytest.fixture(scope="module")
def vpcd_slot(pcscd):
    """A virtual card slot served to pcscd through vpcd by a thread of this process."""
    from madoguchi.card.vpcd import VpcdServer, configured_port, reader_name

    holder = SwappableCard()

    def connect():
        server = VpcdServer(holder, port=configured_port())
        server.start_thread()
        return server

    holder.connect = connect
    holder.server = connect()
    name = reader_name(holder.server.port, configured_port())
    _wait_for_card(name)
    yield holder, name
    if holder.server is not None:
        holder.server.stop()


def _wait_for_card(name: str, timeout: float = 15) -> None:
    """pcscd notices the slot's card on its next poll of the reader, a moment after the
    slot connects: a module's first test must not race it ("Card not present")."""
    from smartcard.Exceptions import CardConnectionException, NoCardException
    from smartcard.System import readers

    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = next(r for r in readers() if str(r) == name).createConnection()
            connection.connect()
            connection.disconnect()
            return
        except (StopIteration, NoCardException, CardConnectionException):
            if time.monotonic() > deadline:
                _pcsc_unavailable(f"no card appeared in {name!r} within {timeout:.0f} s")
            time.sleep(0.1)


@pytest.fixture(params=["virtual", "pcsc"])
def transport_kind(request):
    return request.param


@pytest.fixture
def make_transport(transport_kind, request):
    """make_transport(card_dir) → a raw transport to that card, in-process or through PC/SC."""
    opened = []

    def make(directory):
        card = virtual.VirtualCard(directory)
        if transport_kind == "virtual":
            transport = VirtualTransport(card)
        else:
            holder, name = request.getfixturevalue("vpcd_slot")
            holder.card = card
            transport = PcscTransport(name, timeout=10)
            card.power_on()  # each test starts from a cold card, whatever pcscd did
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        transport.close()


@pytest.fixture
def raw(make_transport, card_dir):
    """raw(hex) → (data, sw) on the current test's card."""
    transport = make_transport(card_dir)

    def send(command_hex: str) -> tuple[bytes, int]:
        response = transport.transmit(bytes.fromhex(command_hex.replace(" ", "")))
        return response[:-2], int.from_bytes(response[-2:], "big")

    send.transport = transport
    return send


@pytest.fixture
def channel(make_transport, card_dir):
    return Channel(make_transport(card_dir))
