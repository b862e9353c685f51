"""The registry of checkpoint sinks: `MADOGUCHI_AUDIT_CHECKPOINT_SINK` names one.

Only the directory sink ships; an object-store sink (S3 Object Lock and the like) would
register here with the same interface (docs/operations.md).
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import CheckpointSink, SinkError, StoredLine
from .directory import DirectorySink

REGISTRY = {
    DirectorySink.name: lambda: DirectorySink(settings.AUDIT_CHECKPOINT_DIR),
}


def get_sink() -> CheckpointSink:
    name = settings.AUDIT_CHECKPOINT_SINK
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"MADOGUCHI_AUDIT_CHECKPOINT_SINK={name!r} is not a checkpoint sink (use one of: {', '.join(REGISTRY)})"
        ) from None
    return factory()


__all__ = ["CheckpointSink", "SinkError", "StoredLine", "DirectorySink", "REGISTRY", "get_sink"]
