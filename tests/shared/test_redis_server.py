from pathlib import Path

import redis

from shared.redis_server import resolve_redis


def test_embedded_redis_is_a_real_server(tmp_path: Path) -> None:
    endpoint = resolve_redis(None, tmp_path, who="test")
    try:
        client = redis.Redis.from_url(endpoint.url)
        assert client.ping()
        assert client.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1, "k", 5) == 5
        client.close()
    finally:
        endpoint.close()


def test_configured_url_is_used_as_is(tmp_path: Path) -> None:
    assert resolve_redis("redis://example:6379/3", tmp_path, who="test").url == (
        "redis://example:6379/3"
    )
