"""Relying parties are registered by administrators (back office) and operators (CLI)."""

import json

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.oidc.models import Client
from tests.conftest import sign_in
from tests.test_cli import madoguchi


@pytest.mark.django_db
def test_an_administrator_registers_a_relying_party(client_admin_a, muni_a):
    listing = client_admin_a.get(f"/{muni_a.code}/staff/oidc/clients/")
    assert listing.status_code == 200 and "連携サービス" in listing.content.decode()
    form = {"name": "窓口大学", "redirect_uris": "https://univ.example.jp/cb", "scopes": ["name", "sign"],
            "legal_basis": "signature_verifier", "legal_basis_note": "認定番号 123", "auth_method": "client_secret_basic",
            "id_token_alg": "RS256"}
    created = client_admin_a.post(f"/{muni_a.code}/staff/oidc/clients/new/", form)
    assert created.status_code == 200, created.content.decode()[:2000]
    row = Client.unscoped.get(municipality=muni_a, name="窓口大学")
    assert row.client_id in created.content.decode() and row.scopes == "openid name sign"
    assert AuditEvent.unscoped.filter(municipality=muni_a, action="oidc.client_registered",
                                      object_id=str(row.pk)).exists()
    # A scope beyond the basis is refused with a message, nothing saved.
    refused = client_admin_a.post(f"/{muni_a.code}/staff/oidc/clients/new/",
                                  {**form, "name": "ログインだけ", "legal_basis": "user_verifier"})
    assert refused.status_code == 200 and "beyond the legal basis" in refused.content.decode()
    assert not Client.unscoped.filter(name="ログインだけ").exists()
    bad_jwks = client_admin_a.post(f"/{muni_a.code}/staff/oidc/clients/new/",
                                   {**form, "name": "鍵なし", "auth_method": "private_key_jwt", "jwks": "{nope"})
    assert bad_jwks.status_code == 200 and not Client.unscoped.filter(name="鍵なし").exists()
    # Deactivation stops it.
    assert client_admin_a.post(f"/{muni_a.code}/staff/oidc/clients/{row.pk}/deactivate/").status_code == 302
    row.refresh_from_db()
    assert not row.active


@pytest.mark.django_db
def test_a_viewer_cannot_register(client, muni_a, viewer_a):
    assert sign_in(client, muni_a, *viewer_a).status_code == 302
    assert client.get(f"/{muni_a.code}/staff/oidc/clients/").status_code == 200
    assert client.get(f"/{muni_a.code}/staff/oidc/clients/new/").status_code == 403


def test_cli_registers_a_relying_party(tmp_path):
    assert madoguchi("migrate", data_dir=tmp_path).returncode == 0
    assert madoguchi("demo", data_dir=tmp_path).returncode == 0
    jwks = tmp_path / "rp.jwks"
    from joserfc.jwk import ECKey

    jwks.write_text(json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}))
    ok = madoguchi("oidc", "client", "add", "--municipality", "139998", "--name", "図書館",
                   "--redirect-uri", "https://lib.example.jp/cb", "--scope", "openid name",
                   "--legal-basis", "municipal_service", "--auth-method", "private_key_jwt", "--jwks", str(jwks),
                   data_dir=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("client_id: rp-")
    secret = madoguchi("oidc", "client", "add", "--municipality", "139998", "--name", "大学",
                       "--redirect-uri", "https://u.example.jp/cb", "--legal-basis", "user_verifier",
                       "--auth-method", "client_secret_basic", data_dir=tmp_path)
    assert secret.returncode == 0 and "client_secret (shown once): " in secret.stdout
    for args in (["oidc", "client", "add", "--municipality", "139998"],
                 ["oidc", "client", "add", "--municipality", "000000", "--name", "x", "--redirect-uri",
                  "https://x.example.jp/", "--legal-basis", "user_verifier", "--auth-method", "client_secret_basic"],
                 ["oidc", "client", "add", "--municipality", "139998", "--name", "x", "--redirect-uri",
                  "https://x.example.jp/", "--scope", "openid name", "--legal-basis", "user_verifier",
                  "--auth-method", "client_secret_basic"],
                 ["oidc", "client", "add", "--municipality", "139998", "--name", "x", "--redirect-uri",
                  "ftp://x", "--legal-basis", "user_verifier", "--auth-method", "private_key_jwt"],
                 ["oidc", "keys", "rotate", "--municipality", "139998", "--alg", "HS256"]):
        result = madoguchi(*args, data_dir=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("madoguchi:"), result.stderr
    rotated = madoguchi("oidc", "keys", "rotate", "--municipality", "139998", "--alg", "ES256", data_dir=tmp_path)
    assert rotated.returncode == 0 and rotated.stdout.startswith("new ES256 key: ")


@pytest.mark.django_db
def test_secret_rotation_and_key_rollover(client_admin_a, make_rp, muni_a):
    from joserfc.jwk import ECKey

    from madoguchi.municipalities.tenancy import tenant

    basic = make_rp()
    rotated = client_admin_a.post(f"/{muni_a.code}/staff/oidc/clients/{basic.row.pk}/secret/")
    assert rotated.status_code == 200
    new_secret = rotated.context["secret"]
    with tenant(muni_a):
        row = Client.objects.get(pk=basic.row.pk)
    assert row.check_client_secret(new_secret) and not row.check_client_secret(basic.session.client_secret)
    keyed = make_rp(method="private_key_jwt")
    new_key = ECKey.generate_key("P-256", auto_kid=True)
    jwks = {"keys": [keyed.session.client_secret.as_dict(private=False), new_key.as_dict(private=False)]}
    url = f"/{muni_a.code}/staff/oidc/clients/{keyed.row.pk}/keys/"
    assert client_admin_a.post(url, {"jwks": json.dumps(jwks)}).status_code == 302
    with tenant(muni_a):
        assert len(Client.objects.get(pk=keyed.row.pk).jwks["keys"]) == 2
    private = {"keys": [new_key.as_dict(private=True)]}
    client_admin_a.post(url, {"jwks": json.dumps(private)})  # a private key is refused
    client_admin_a.post(url, {"jwks": "{nope"})
    with tenant(muni_a):
        assert len(Client.objects.get(pk=keyed.row.pk).jwks["keys"]) == 2
    assert {"oidc.client_secret_rotated", "oidc.client_keys_replaced"} <= set(
        AuditEvent.unscoped.filter(municipality=muni_a).values_list("action", flat=True))
