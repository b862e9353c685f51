"""PC/SC transport details: listing readers, waiting for a card, the vpcd wire protocol."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from madoguchi.card import virtual
from madoguchi.card import vpcd
from madoguchi.card.constants import ATR
from madoguchi.card.jpki import JpkiAP
from madoguchi.card.transport import Channel, TransportError, reader_names, wait_for_card


def test_reader_names_list_the_virtual_readers(pcscd):
    names = reader_names()
    assert any(n.startswith("Virtual PCD 00 00") for n in names)


def test_no_such_reader(pcscd):
    with pytest.raises(TransportError):
        wait_for_card("No Such Reader", timeout=0)


def test_wait_for_a_card_inserted_later(pcscd, card_dir):
    port = vpcd.configured_port() + 1
    server = vpcd.VpcdServer(virtual.VirtualCard(card_dir), port=port)
    threading.Timer(0.7, server.start_thread).start()
    started = time.monotonic()
    transport = wait_for_card(vpcd.reader_name(port, vpcd.configured_port()), timeout=15)
    try:
        assert time.monotonic() - started >= 0.5
        assert transport.atr == ATR
        assert JpkiAP(Channel(transport)).token_label() == "JPKIAPICCTOKEN2"
    finally:
        transport.close()
        server.stop()


def test_reader_conf_port(tmp_path):
    conf = tmp_path / "vpcd"
    conf.write_text('FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x8C7B\nCHANNELID 0x8C7B\n')
    assert vpcd.configured_port(conf) == 35963
    assert vpcd.configured_port(tmp_path / "missing") == 35963
    assert vpcd.reader_name(35964, 35963) == "Virtual PCD 00 01"


def test_vpcd_wire_protocol(card_dir):
    """Play vpcd's part: control bytes and length-framed APDUs over TCP."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = vpcd.VpcdServer(virtual.VirtualCard(card_dir), port=port)
    thread = threading.Thread(target=server._run_quietly, daemon=True)
    server.connect()
    thread.start()
    conn, _ = listener.accept()
    conn.settimeout(5)

    def send(payload: bytes) -> None:
        conn.sendall(len(payload).to_bytes(2, "big"))  # as vpcd does: length, then payload
        conn.sendall(payload)

    def receive() -> bytes:
        length = int.from_bytes(vpcd._recv_exact(conn, 2), "big")
        return vpcd._recv_exact(conn, length)

    try:
        send(bytes([vpcd.VPCD_CTRL_ON]))
        send(bytes([vpcd.VPCD_CTRL_ATR]))
        assert receive() == ATR
        send(bytes.fromhex("00A4040C0AD392F000260100000001"))
        assert receive() == b"\x90\x00"
        send(bytes([vpcd.VPCD_CTRL_RESET]))
        send(bytes.fromhex("00A4020C02000A"))
        assert receive() == b"\x6a\x82"  # the reset selected the GP ISD again
        send(bytes([vpcd.VPCD_CTRL_OFF]))
    finally:
        server.stop()
        conn.close()
        listener.close()
        thread.join(timeout=5)


def test_transports_by_name(card_dir):
    from madoguchi.card.transport import TRANSPORTS, open_transport

    assert TRANSPORTS.names() == ["pcsc", "virtual"]
    assert TRANSPORTS.entry("virtual").description.startswith("development:")
    # A bare name is a card under <data dir>/cards/.
    (card_dir.parent / "cards").mkdir()
    card_dir.rename(card_dir.parent / "cards" / "hanako")
    channel = Channel(open_transport("virtual", "hanako", card_dir.parent))
    try:
        JpkiAP(channel).select()
    finally:
        channel.close()


def test_an_unknown_transport_or_card_is_refused(tmp_path):
    from madoguchi.card.transport import NoSuchTarget, open_transport
    from madoguchi.registry import UnknownName

    with pytest.raises(UnknownName, match=r"unknown card transport 'nfc'; known: pcsc, virtual"):
        open_transport("nfc", None, tmp_path)
    with pytest.raises(NoSuchTarget, match="no virtual card in"):
        open_transport("virtual", "nobody", tmp_path)
