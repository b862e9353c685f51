"""The municipality's registration with the national authentication app and its keys.

The private keys are JWKs in the database (as oidc.SigningKey's): keep the database as
secret as the keys. The public halves are served at /<code>/natapp/jwks and are what the
Digital Agency's onboarding registers."""

from django.db import models
from django.utils import timezone

from madoguchi.municipalities.tenancy import TenantOwned


class Registration(TenantOwned):
    """The client the Digital Agency registered for the municipality: the provider's issuer
    URL (the only thing madoguchi knows of the provider; everything else comes from its
    discovery document) and the client id."""

    issuer = models.URLField(max_length=300)
    client_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality"], name="natapp_registration_one")]


class ClientKey(TenantOwned):
    """A key of the municipality's client: `sig` signs the private_key_jwt client assertions
    (ES256), `enc` decrypts the sign results (ECDH-ES+A256KW). The newest unretired key of a
    use is the current one; a retired `enc` key still decrypts a result encrypted before the
    provider saw the new one, until it is withdrawn."""

    class Use(models.TextChoices):
        SIGNATURE = "sig", "sig"
        ENCRYPTION = "enc", "enc"

    kid = models.CharField(max_length=64)
    use = models.CharField(max_length=3, choices=Use.choices)
    alg = models.CharField(max_length=32)
    private_jwk = models.JSONField()
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "kid"], name="natapp_key_unique_kid")]
        indexes = [models.Index(fields=["municipality", "use", "retired_at"], name="natapp_key_use")]
