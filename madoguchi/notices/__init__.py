"""通知配信: the delivery engine of notices (issue 16; docs/notices.md).

A Delivery row per recipient and channel, sent by the Tasks worker with bounded retries;
the channels (channels/) are a plug point. The applications' notice channels
(applications/notices) hand their transitions here through adapters registered in
apps.py, so a status change reaches the resident's e-mail through the same engine.
"""
