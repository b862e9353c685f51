"""The pcscd that tests and benchmarks start themselves (`vpcd.private_pcscd`): its own
reader.conf with vpcd on a port no outgoing connection can take. Its own module: the `pcscd`
fixture of the other card modules holds the machine-wide lock this module needs."""

from __future__ import annotations

import os
import socket

import pytest

from madoguchi.card import virtual, vpcd
from madoguchi.card.jpki import JpkiAP
from madoguchi.card.transport import Channel, wait_for_card


def test_a_private_reader_conf_says_its_port(tmp_path, monkeypatch):
    conf = vpcd.write_reader_conf(tmp_path / "reader.conf.d", 29963)
    assert vpcd.configured_port(conf) == 29963
    monkeypatch.setenv(vpcd.PORT_ENV, "24963")
    assert vpcd.configured_port() == 24963  # the port of the pcscd this process started wins
    monkeypatch.delenv(vpcd.PORT_ENV)
    assert vpcd.configured_port() == vpcd.configured_port(vpcd.READER_CONF)


def test_the_private_port_is_one_no_outgoing_connection_takes():
    port = vpcd.quiet_port()
    low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    assert not (low <= port <= high) and not (low <= port + 1 <= high)
    with socket.create_server(("", port)):  # taken: the next candidate
        assert vpcd.quiet_port() != port


def test_a_private_pcscd_keeps_its_reader_when_vpcds_default_port_is_held(card_dir):
    """CI once lost the reader: a PostgreSQL connection's local port was 35963, vpcd's default,
    so vpcd could not listen and pcscd ran without it. The same collision here, on purpose."""
    pytest.importorskip("smartcard")
    listener = socket.create_server(("127.0.0.1", 0))
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", vpcd.DEFAULT_PORT))
        holder.connect(listener.getsockname())
    except OSError:
        pass  # something holds the port already: the same situation
    try:
        with vpcd.exclusive_use():
            if vpcd.virtual_readers():
                pytest.skip("a pcscd of the system runs here; the private one cannot start beside it")
            with vpcd.private_pcscd() as port:
                assert port != vpcd.DEFAULT_PORT
                server = vpcd.VpcdServer(virtual.VirtualCard(card_dir))  # finds the port itself
                server.start_thread()
                try:
                    transport = wait_for_card(vpcd.reader_name(server.port), timeout=15)
                    try:
                        assert JpkiAP(Channel(transport)).token_label() == "JPKIAPICCTOKEN2"
                    finally:
                        transport.close()
                finally:
                    server.stop()
            assert vpcd.PORT_ENV not in os.environ
    finally:
        holder.close()
        listener.close()
