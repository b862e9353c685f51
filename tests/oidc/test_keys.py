"""Signing keys in one process: a withdrawal is audited, leaves the JWKS and is never chosen
to sign again (tests/oidc/test_keys_live.py shows the same across server processes)."""

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.oidc import keys

from .flow import follow


@pytest.mark.django_db
def test_a_withdrawn_key_leaves_the_jwks_and_never_signs(make_rp, identified, browser, pki, muni_a):
    rp = make_rp(alg="ES256")
    callback, _, _ = follow(browser, rp.authorization_url("openid"), pki.taro)
    kid = rp.finish(callback)["id_token"].header["kid"]
    with tenant(muni_a):
        keys.withdraw(muni_a, kid, actor=("operator", "cli"))
        with pytest.raises(keys.KeyProblem, match="already withdrawn"):
            keys.withdraw(muni_a, kid)
        with pytest.raises(keys.KeyProblem, match="no signing key"):
            keys.withdraw(muni_a, "nope")
    event = AuditEvent.unscoped.get(municipality=muni_a, action="oidc.key_withdrawn")
    assert event.data == {"kid": kid, "alg": "ES256"} and event.actor_type == "operator"
    published = rp.http.get(rp.metadata["jwks_uri"])
    assert kid not in {k["kid"] for k in published.json()["keys"]}
    assert published.headers["Cache-Control"] == f"public, max-age={keys.JWKS_MAX_AGE}"
    callback, _, _ = follow(browser, rp.authorization_url("openid"), pki.taro)
    token = rp.finish(callback)["token"]["id_token"]
    assert jwt.decode(token, KeySet.import_key_set(published.json())).header["kid"] != kid


@pytest.mark.django_db
@pytest.mark.parametrize("where", [[], ["--municipality", "{code}"], ["--municipality={code}"]])
def test_a_kid_that_starts_with_a_dash_is_withdrawn_through_the_cli(muni_a, capsys, where):
    """A JWK thumbprint is base64url: one key in 64 has a kid like "-ikh…", which argparse took for an
    unknown option (CI, stop 31)."""
    from madoguchi.cli import main
    from madoguchi.oidc.models import SigningKey

    with tenant(muni_a):
        keys.active_key(muni_a, "ES256")
        row = SigningKey.objects.get(alg="ES256")
        SigningKey.objects.filter(pk=row.pk).update(kid="-" + row.kid[1:])
    kid = "-" + row.kid[1:]
    options = [part.format(code=muni_a.code) for part in where]
    assert main(["oidc", "keys", "withdraw", kid, *options]) == 0
    assert f"withdrawn ES256 key {kid} of {muni_a.code}" in capsys.readouterr().out
    assert main(["oidc", "keys", "withdraw", *options, kid]) == 2
    assert "already withdrawn" in capsys.readouterr().err
