"""The authorization endpoint under hostile parameters (hypothesis): never a 500. A request
whose client and redirect URI are registered gets an error redirect naming the issuer
(RFC 9207); anything else the error page (HTTP 400), or the card ceremony of a well-formed
request."""

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.oidc.models import AuthorizationCode

from .conftest import REDIRECT
from .flow import path_of

FIELDS = ("redirect_uri", "scope", "response_type", "state", "nonce", "prompt", "max_age", "client_id",
          "code_challenge", "code_challenge_method", "sign_transaction_id", "acr_values", "id_token_hint",
          "response_mode", "request", "request_uri", "ui_locales", "login_hint")
HOSTILE = st.sampled_from(['"', "\\", "é", "窓口", "\x00", "\x7f", "\t", "\n", "%", "%00", "a b", "<x>", "\u2028",
                           "x" * 3000, "openid\"", "code\\", "openid 名前", REDIRECT + '"', REDIRECT + "é"])
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30) | HOSTILE


@pytest.mark.django_db
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(FIELDS), TEXT, min_size=1, max_size=3))
def test_hostile_parameters_never_500(make_rp_once, browser, changes):
    rp, muni_a = make_rp_once
    url = rp.authorization_url("openid")
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
    params.update(changes)
    answer = browser.get(f"/{muni_a.code}/oidc/authorize", params)
    assert answer.status_code in (302, 400), (changes, answer.status_code)
    if answer.status_code == 302:
        location = answer["Location"]
        if location.startswith(REDIRECT):
            query = parse_qs(urlsplit(location).query)
            assert query["error"] and query["iss"] == [f"http://localhost/{muni_a.code}"], (changes, location)
        else:
            assert path_of(location).startswith(f"/{muni_a.code}/ceremony/"), (changes, location)
    else:
        assert "Location" not in answer
    assert not AuthorizationCode.unscoped.exists()


@pytest.fixture
def make_rp_once(make_rp, muni_a, settings):
    settings.OIDC_AUTHORIZE_RATE = 1_000_000
    return make_rp(), muni_a
