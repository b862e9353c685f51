from .base import DELIVERY_CHANNELS, DeliveryChannel, Message, PermanentFailure, TransientFailure  # noqa: F401
