from django.db import models


class RateCounter(models.Model):
    """One fixed window of one rate limit (see core.ratelimit). Deployment-wide: keys
    carry their own scope (client address, ceremony id)."""

    key = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)
