import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from madoguchi.ceremonies import pki as ceremony_pki
from madoguchi.pki import profile
from madoguchi.pki.commands import load_trust
from madoguchi.pki.crlindex import RevocationStore, crl_dir
from madoguchi.pki.devca import DevCA
from madoguchi.residents.models import ResidentRecord
from tests.ceremonies.softcard import SoftCard

TARO = profile.BasicFour(name="窓口　太郎", address="東京都窓口市本町一丁目1番1号", birth=dt.date(1980, 4, 1), sex="1")
HANAKO = profile.BasicFour(name="見本　花子", address="東京都窓口市本町二丁目2番2号", birth=dt.date(1990, 6, 15), sex="2")


@dataclass
class DevPKI:
    data_dir: Path
    ca: DevCA
    taro: SoftCard
    hanako: SoftCard

    def publish_crls(self) -> None:
        """What an operator does with `madoguchi pki crl import`: the current CRLs, indexed."""
        trust = load_trust(str(self.data_dir))
        store = RevocationStore(crl_dir(self.data_dir))
        for purpose in ("auth", "sign"):
            store.import_crl(self.ca.crl(purpose).public_bytes(serialization.Encoding.DER), trust)
        ceremony_pki.reset()


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("pki")
    ca = DevCA.open(data_dir)
    pki = DevPKI(data_dir, ca, SoftCard(ca.issue_card(TARO)), SoftCard(ca.issue_card(HANAKO)))
    pki.publish_crls()
    return pki


@pytest.fixture
def pki(dev_pki, settings):
    settings.DATA_DIR = dev_pki.data_dir
    ceremony_pki.reset()
    yield dev_pki
    ceremony_pki.reset()


@pytest.fixture
def taro_record(muni_a):
    return ResidentRecord.unscoped.create(municipality=muni_a, resident_number="1001", name="窓口太郎",
                                          birth_date=TARO.birth, sex="1", address=TARO.address)


@pytest.fixture(scope="session")
def issued_virtual_card(dev_pki):
    """A virtual card of 窓口 太郎 issued once; tests copy it so retry counters start fresh."""
    from madoguchi.card import virtual

    directory = dev_pki.data_dir / "card-templates" / "taro"
    virtual.issue(directory, dev_pki.ca, virtual.Holder(name=TARO.name, address=TARO.address, birth=TARO.birth,
                                                        sex=TARO.sex), pin="1234", password="MADO2026",
                  text_pin="5678")
    return directory


@pytest.fixture
def virtual_card(pki, issued_virtual_card):
    import shutil
    import uuid

    name = f"taro-{uuid.uuid4().hex[:6]}"
    target = pki.data_dir / "cards" / name
    shutil.copytree(issued_virtual_card, target)
    yield name
    shutil.rmtree(target, ignore_errors=True)
