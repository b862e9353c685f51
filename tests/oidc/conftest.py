import pytest
from joserfc.jwk import ECKey, RSAKey

from madoguchi.municipalities.tenancy import tenant
from madoguchi.oidc import services
from tests.ceremonies.conftest import dev_pki, issued_virtual_card, pki, taro_record  # noqa: F401  (fixtures)

from .rp import RelyingParty

REDIRECT = "https://library.example.jp/callback"


@pytest.fixture
def register(muni_a):
    """register(...) → (client, secret): a relying party of municipality A."""

    def make(scopes=("name", "address", "birthdate", "gender"), basis="municipal_service", method="client_secret_basic",
             jwks=None, alg="ES256", redirect=REDIRECT, name="窓口市立図書館", **extra):
        with tenant(muni_a):
            return services.register_client(name=name, redirect_uris=[redirect], scopes=set(scopes),
                                            legal_basis=basis, auth_method=method, jwks=jwks, id_token_alg=alg,
                                            **extra)

    return make


@pytest.fixture
def make_rp(register, muni_a, client):
    """make_rp(...) → a RelyingParty speaking to the in-process server (its own test client)."""
    from django.test import Client

    def make(method="client_secret_basic", alg="ES256", assertion_alg="ES256", **kwargs):
        private = None
        jwks = None
        if method == "private_key_jwt":
            private = ECKey.generate_key("P-256", auto_kid=True) if assertion_alg == "ES256" else \
                RSAKey.generate_key(2048, auto_kid=True)
            jwks = {"keys": [private.as_dict(private=False)]}
        rp_client, secret = register(method=method, jwks=jwks, alg=alg, **kwargs)
        rp = RelyingParty(f"http://localhost/{muni_a.code}", rp_client.client_id,
                          kwargs.get("redirect", REDIRECT), secret=secret, private_key=private,
                          assertion_alg=assertion_alg, id_token_alg=alg, django_client=Client(HTTP_HOST="localhost"))
        rp.row = rp_client
        return rp

    return make


@pytest.fixture
def browser():
    """The resident's browser (the issuer is http://localhost/<code>: Authlib allows loopback http)."""
    from django.test import Client

    return Client(HTTP_HOST="localhost")


@pytest.fixture(autouse=True)
def fresh_key_cache():
    from madoguchi.oidc import keys

    keys._cache.clear()
    yield
    keys._cache.clear()


@pytest.fixture
def identified(browser, pki, taro_record, muni_a):
    """The browser after 窓口 太郎's first `identify` at the portal (his card is linked)."""
    from tests.ceremonies.test_flows import sign_in

    sign_in(browser, muni_a.code, "identify", pki.taro)
    return browser
