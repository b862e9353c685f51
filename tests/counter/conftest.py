"""A virtual card (with the card face AP) issued once per session under its own development
CA, a resident record matching its holder, and the reading the local agent would send."""

import datetime as dt
import json
import shutil

import pytest

from madoguchi.card import face, virtual
from madoguchi.card.transport import VirtualTransport
from madoguchi.municipalities.tenancy import tenant
from madoguchi.pki.devca import DevCA
from madoguchi.procedures.services import install_catalog
from madoguchi.residents.models import ResidentRecord
from madoguchi.terminal.agent import Agent

SIGN_PASSWORD = "ABC123"
HOLDER = virtual.Holder(name="窓口\u3000花子", address="東京都窓口市本町一丁目1番1号", birth=dt.date(1990, 1, 2), sex="2")


@pytest.fixture(scope="session")
def counter_data(tmp_path_factory):
    data = tmp_path_factory.mktemp("counter-data")
    ca = DevCA.open(data)
    virtual.issue(data / "card", ca, HOLDER, "1234", SIGN_PASSWORD, "5678")
    # The current CRLs indexed (`madoguchi pki crl import`): the `sign` ceremony checks revocation.
    from cryptography.hazmat.primitives import serialization

    from madoguchi.pki.commands import load_trust
    from madoguchi.pki.crlindex import RevocationStore, crl_dir

    trust = load_trust(str(data))
    store = RevocationStore(crl_dir(data))
    for purpose in ("auth", "sign"):
        store.import_crl(ca.crl(purpose).public_bytes(serialization.Encoding.DER), trust)
    return data


@pytest.fixture
def card(counter_data, tmp_path, settings):
    """(card directory, 照合番号B) — a fresh copy; the server trusts the demo issuer of its CA
    (and, for the `sign` ceremony, the CA itself)."""
    from madoguchi.ceremonies import pki as ceremony_pki

    settings.DATA_DIR = counter_data
    ceremony_pki.reset()
    target = tmp_path / "card"
    shutil.copytree(counter_data / "card", target)
    text = json.loads((target / "card.json").read_text())["text"]
    return target, face.code_b(HOLDER.birth, int(text["card_expiry"][:4]), text["security_code"])


def agent_read(card_dir, code: str) -> dict:
    """What the local agent's POST /face answers: the raw bytes, base64."""
    agent = Agent("http://127.0.0.1:1", "139998", "t", None, None)
    return agent.read_face(code, transport=VirtualTransport(virtual.VirtualCard(card_dir)))


@pytest.fixture
def counter_setup(muni_a, dept_a):
    with tenant(muni_a):
        install_catalog(muni_a)
        head = ResidentRecord.objects.create(
            resident_number="100001", name=HOLDER.name, name_kana="まどぐち　はなこ", birth_date=HOLDER.birth, sex="2",
            address=HOLDER.address, household_id="H1", is_household_head=True, relationship="世帯主")
        ResidentRecord.objects.create(resident_number="100002", name="窓口\u3000一郎", name_kana="まどぐち　いちろう",
                                      birth_date=dt.date(2020, 4, 1), sex="1", address=HOLDER.address,
                                      household_id="H1", relationship="子")
    return head


TEXT_PIN = "5678"


def agent_read_pin(card_dir, pin: str = TEXT_PIN) -> dict:
    """What the local agent's POST /text answers (the PIN path): the text AP's raw bytes."""
    agent = Agent("http://127.0.0.1:1", "139998", "t", None, None)
    return agent.read_text(pin, transport=VirtualTransport(virtual.VirtualCard(card_dir)))


def agent_signs(client, url: str, card_dir, password: str = SIGN_PASSWORD, monkeypatch=None) -> dict:
    """The local agent's POST /sign: runs the ceremony at `url` with the card, its HTTP going
    to the Django test `client` instead of the network."""
    from urllib.parse import urlsplit

    from madoguchi.card import ceremony_client

    def http(method, target, body=None):
        path = urlsplit(target).path
        response = client.get(path) if method == "GET" else client.post(path, json.dumps(body),
                                                                          content_type="application/json")
        if response.status_code >= 400:
            error = response.json()
            raise ceremony_client.CeremonyRefused(error.get("code", "error"), error.get("message", ""),
                                                  response.status_code)
        return response.json()

    monkeypatch.setattr(ceremony_client, "_http", http)
    agent = Agent("http://127.0.0.1:1", "139998", "t", None, None)
    return agent.sign(url, password, transport=VirtualTransport(virtual.VirtualCard(card_dir)))
