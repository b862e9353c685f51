"""The provider end to end in-process: a resident's browser (Django test client), the soft
card, and the test relying party built on Authlib's client."""

import pytest
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.oidc.claims import ACR

from .flow import follow

FACTS = "openid name address birthdate gender"


@pytest.mark.django_db
@pytest.mark.parametrize("method,alg", [("client_secret_basic", "ES256"), ("private_key_jwt", "RS256"),
                                        ("client_secret_basic", "RS256"), ("private_key_jwt", "ES256")])
def test_facts_through_identify_and_consent(make_rp, browser, pki, taro_record, muni_a, method, alg):
    rp = make_rp(method=method, alg=alg)
    callback, consent, purposes = follow(browser, rp.authorization_url(FACTS), pki.taro)
    assert purposes == ["identify"]
    assert "窓口　太郎" in consent and "東京都窓口市本町一丁目1番1号" in consent
    result = rp.finish(callback)
    claims, info = result["id_token"], result["userinfo"]
    assert claims.header["alg"] == alg and claims["acr"] == ACR["identify"] and "pwd" in claims["amr"]
    assert "name" not in claims  # facts come from userinfo only
    assert info == {"sub": claims["sub"], "name": "窓口　太郎", "birthdate": "1980-04-01", "gender": "male",
                    "address": {"formatted": "東京都窓口市本町一丁目1番1号"}}
    # Remembered consent: a second authorization goes straight back to the relying party.
    callback, consent, purposes = follow(browser, rp.authorization_url(FACTS), pki.taro)
    assert consent is None and purposes == []
    assert rp.finish(callback)["id_token"]["sub"] == claims["sub"]
    actions = set(AuditEvent.unscoped.filter(municipality=muni_a).values_list("action", flat=True))
    assert {"oidc.client_registered", "oidc.consent_granted", "oidc.authorized", "oidc.token_issued"} <= actions
