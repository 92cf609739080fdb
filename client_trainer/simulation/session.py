"""Everything a simulated experiment needs before its first run: the client's world, a Redis,
a vendor with an API key, and the base run config that ties them together."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from client_trainer.config import RunConfig
from client_trainer.simulation.profiles import client_profile
from client_trainer.simulation.recipe import base_config
from client_trainer.simulation.vendor_access import VendorPlan, vendor_access
from client_trainer.simulation.world import prepare_client_world
from shared.redis_server import resolve_redis
from shared.schemas import ModelList

Announce = Callable[[str], None]


@dataclass(frozen=True)
class SessionConfig:
    out_dir: Path = Path("runs/demo")  # report, summary, plots and run directories
    artifacts: Path = field(  # cached world data, teacher checkpoint, student weights, Redis
        default_factory=lambda: Path(os.environ.get("ARTIFACTS_DIR", "artifacts"))
    )
    vendor_url: str | None = None  # a running vendor; None starts one locally
    api_key: str | None = None  # its API key; None creates one with the admin token
    admin_token: str | None = None  # the vendor's admin token (generated for a local vendor)
    redis_url: str | None = None  # the client's (and a local vendor's) Redis; None = embedded
    budget: int = 10**9  # credits on the API key a simulation creates for itself
    profile: str = "full"  # size of the world: full (the demo's) or micro (tests)
    client_prefix: str = field(  # key prefix of the client's cache and spend records
        default_factory=lambda: os.environ.get("CLIENT_REDIS_PREFIX", "client:")
    )

    @classmethod
    def from_env(cls, **overrides: object) -> SessionConfig:
        env = {
            "vendor_url": os.environ.get("VENDOR_URL") or None,
            "api_key": os.environ.get("VENDOR_API_KEY") or None,
            "admin_token": os.environ.get("VENDOR_ADMIN_TOKEN") or None,
            "redis_url": os.environ.get("REDIS_URL") or None,
        }
        return cls(**{**env, **{k: v for k, v in overrides.items() if v is not None}})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Prices:
    """The vendor's list prices (credits per item), from GET /v1/models."""

    image: int
    text: int

    def cost(self, images: int, texts: int) -> int:
        return images * self.image + texts * self.text


@dataclass(frozen=True)
class Session:
    base: RunConfig  # every run of the simulation starts from this config
    domains: tuple[str, ...]
    prices: Prices
    tag: str  # prefixes the simulation's run names: its own run directories and spend records


def list_prices(vendor_url: str) -> Prices:
    response = httpx.get(f"{vendor_url}/v1/models", timeout=30)
    response.raise_for_status()
    card = ModelList.model_validate(response.json()).data[0]
    return Prices(card.price_per_image, card.price_per_text)


@contextmanager
def simulation_session(config: SessionConfig, announce: Announce) -> Iterator[Session]:
    announce("world: generating (or reusing) the task data and the pretrained student")
    profile = client_profile(config.profile)
    world = prepare_client_world(config.artifacts, profile)
    redis = resolve_redis(config.redis_url, config.artifacts / "redis", who="simulation")
    plan = VendorPlan(
        config.vendor_url,
        config.api_key,
        config.admin_token,
        config.budget,
        redis.url,
        config.artifacts,
        config.out_dir / "logs",
        config.profile,
    )
    try:
        with vendor_access(plan, announce) as vendor:
            base = base_config(
                profile.recipe,
                world.data_root,
                world.dataset,
                (world.student, world.student_weights),
                config.out_dir / "runs",
            ).with_overrides(
                {
                    "teacher.vendor_url": vendor.base_url,
                    "teacher.api_key": vendor.api_key,
                    "teacher.redis_url": redis.url,
                    "teacher.redis_prefix": config.client_prefix,
                }
            )
            prices = list_prices(vendor.base_url)
            tag = time.strftime("%Y%m%d-%H%M%S-")
            yield Session(base, world.domains, prices, tag)
    finally:
        redis.close()
