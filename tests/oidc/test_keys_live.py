"""Signing keys across processes: two server processes on one database, and the operator's
`madoguchi oidc keys rotate|withdraw` in a third. Which key signs is read from the database
at every signing, so a rotation or a withdrawal holds for the very next ID token of every
process (docs/oidc.md states the bound: none on the server; relying parties may keep the
JWKS for its max-age, 60 s)."""

import re

import pytest
import requests
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet

from tests.oidc.live import CODE, LIVE_ENV, Resident, query
from tests.oidc.rp import RelyingParty
from tests.server import fresh_database_url, madoguchi, start

CALLBACK = "https://rp.example.jp/callback"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    url, drop = fresh_database_url("oidc_keys")
    data = tmp_path_factory.mktemp("oidc-keys")
    first = start(data, url, log_path=str(data / "a.log"), **LIVE_ENV)
    second = start(data, url, prepare=False, log_path=str(data / "b.log"), **LIVE_ENV)
    yield first, second
    second.stop()
    first.stop()
    drop()


def kid_of(rp, resident, **extra) -> tuple[str, str]:
    """An authorization through this process → (the ID token's kid, the ID token)."""
    callback = resident.follow(rp.authorization_url("openid", **extra))
    assert isinstance(callback, str), callback.text[:300]
    token = rp.finish(callback)["token"]["id_token"]  # verified against that process's JWKS
    return jwt.decode(token, KeySet.import_key_set(rp.http.get(rp.metadata["jwks_uri"]).json())).header["kid"], token


def published(rp) -> set[str]:
    return {k["kid"] for k in requests.get(rp.metadata["jwks_uri"]).json()["keys"]}


def test_rotate_and_withdraw_hold_for_every_process_at_once(servers):
    a, b = servers
    out = madoguchi(a.env, "oidc", "client", "add", "--municipality", CODE, "--name", "鍵テスト", "--redirect-uri",
                    CALLBACK, "--scope", "openid", "--legal-basis", "municipal_service",
                    "--auth-method", "client_secret_basic")
    client_id = re.search(r"client_id: (\S+)", out).group(1)
    secret = re.search(r"client_secret \(shown once\): (\S+)", out).group(1)
    rp_a = RelyingParty(f"{a.base_url}/{CODE}", client_id, CALLBACK, secret=secret)
    rp_b = RelyingParty(f"{b.base_url}/{CODE}", client_id, CALLBACK, secret=secret)
    resident = Resident(a)  # cookies are per host, not per port: signed in at both
    first, _ = kid_of(rp_a, resident, acr_values="urn:madoguchi:acr:identify")  # links the demo card
    assert kid_of(rp_b, resident)[0] == first  # both processes sign with (and cache) the same key

    rotated = madoguchi(a.env, "oidc", "keys", "rotate", "--municipality", CODE, "--alg", "ES256")
    second = re.search(r"new ES256 key: (\S+)", rotated).group(1)
    assert second != first
    assert kid_of(rp_b, resident)[0] == second and kid_of(rp_a, resident)[0] == second  # at once, both
    assert {first, second} <= published(rp_a) and {first, second} <= published(rp_b)  # the old one still verifies

    _, signed_by_second = kid_of(rp_b, resident)
    withdrawn = madoguchi(a.env, "oidc", "keys", "withdraw", second)
    assert f"withdrawn ES256 key {second} of {CODE}" in withdrawn
    assert second not in published(rp_a) and second not in published(rp_b)  # out of the JWKS at once
    third, _ = kid_of(rp_b, resident)
    assert third not in (first, second) and kid_of(rp_a, resident)[0] == third  # never signs again
    with pytest.raises(InvalidKeyIdError):  # a relying party that refetches the JWKS refuses its tokens
        jwt.decode(signed_by_second, KeySet.import_key_set(requests.get(rp_a.metadata["jwks_uri"]).json()))

    # The operator's mistakes: one line, exit 2.
    for args, message in ((["withdraw", second], "already withdrawn"), (["withdraw", "nope"], "no signing key")):
        with pytest.raises(RuntimeError, match=r"failed \(2\)") as failed:
            madoguchi(a.env, "oidc", "keys", *args)
        assert message in str(failed.value)
    assert query(resident.follow(rp_a.authorization_url("openid")))["code"]
