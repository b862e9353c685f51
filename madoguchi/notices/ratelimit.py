"""Per-channel rate limits (engine): at most NOTICES_RATE_<CHANNEL> deliveries per second per
channel and municipality, across every worker. A token bucket in Redis (one Lua script,
atomic, Redis's own clock) when MADOGUCHI_REDIS_URL is set; otherwise a counter per second in
Django's cache (atomic across processes with a shared cache — database, Redis, memcached —
per process with the default local-memory cache). 0 means no limit."""

import time

from django.conf import settings
from django.core.cache import cache

# KEYS[1] the bucket; ARGV[1] rate per second (also the capacity). Returns 0 when a token
# was taken, else the milliseconds until one is there.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or rate
local at = tonumber(state[2]) or t
tokens = math.min(rate, tokens + (t - at) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', t)
redis.call('PEXPIRE', KEYS[1], 60000)
return wait
"""

_redis = {}


def rate_of(channel_name: str) -> int:
    return int(getattr(settings, f"NOTICES_RATE_{channel_name.upper()}", 0) or 0)


def redis_client():
    url = settings.REDIS_URL
    if url not in _redis:
        import redis

        client = redis.Redis.from_url(url)
        _redis[url] = (client, client.register_script(TOKEN_BUCKET))
    return _redis[url]


class Limiter:
    def __init__(self, code: str, channel_name: str, rate: int):
        self.code, self.channel, self.rate = code, channel_name, rate

    def take(self) -> float:
        """Takes a token if there is one: 0, else the seconds to wait before asking again."""
        if self.rate <= 0:
            return 0.0
        if settings.REDIS_URL:
            _client, script = redis_client()
            return int(script(keys=[f"madoguchi:notices:rate:{self.code}:{self.channel}"], args=[self.rate])) / 1000
        second = int(time.time())
        key = f"notices-rate:{self.code}:{self.channel}:{second}"
        cache.add(key, 0, timeout=5)
        try:
            n = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=5)
            n = 1
        return 0.0 if n <= self.rate else max(0.001, second + 1 - time.time())

    def wait(self) -> None:
        while (pause := self.take()) > 0:
            time.sleep(pause)


def for_channel(code: str, channel_name: str) -> Limiter:
    return Limiter(code, channel_name, rate_of(channel_name))
