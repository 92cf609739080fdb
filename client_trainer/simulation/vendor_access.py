"""Reach a vendor for the simulation: the one `VENDOR_URL` names, or one started locally.

Locally this means, in order: the offline world's teacher trained (cached) by the vendor's own
`train-vlm` command, then the vendor's `serve` command on a loopback port, sharing the demo's
Redis under the vendor's own key prefix, and an API key bought with a budget through the admin
API. The client still never imports the vendor's code.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from client_trainer.simulation import commands
from client_trainer.simulation.local_vendor import create_api_key, local_vendor, run_vendor_command


@dataclass(frozen=True)
class VendorAccess:
    base_url: str
    api_key: str


@dataclass(frozen=True)
class VendorPlan:
    url: str | None  # VENDOR_URL; None starts a local vendor
    api_key: str | None  # VENDOR_API_KEY; None creates a key with the admin token
    admin_token: str | None  # VENDOR_ADMIN_TOKEN (generated for a local vendor)
    budget: int  # credits on a key this run creates
    redis_url: str  # the Redis a local vendor keeps its ledger in
    artifacts: Path  # where the local vendor's trained teacher is cached
    logs: Path  # folder of the local vendor's logs
    profile: str = "full"  # size of the world teacher a local vendor trains


@contextmanager
def vendor_access(plan: VendorPlan, announce: Callable[[str], None]) -> Iterator[VendorAccess]:
    if plan.url:
        yield VendorAccess(plan.url, _key_for(plan.url, plan))
        return
    plan.logs.mkdir(parents=True, exist_ok=True)
    env = {
        "REDIS_URL": plan.redis_url,
        "ARTIFACTS_DIR": str(plan.artifacts),
        "VENDOR_ADMIN_TOKEN": plan.admin_token or secrets.token_urlsafe(32),
    }
    announce("vendor: training (or reusing) the offline world's CLIP teacher")
    train = [*commands.VENDOR_TRAIN, "--profile", plan.profile]
    checkpoint = run_vendor_command(train, env).strip()
    env |= {"VENDOR_MODEL": "world-clip", "VENDOR_PRETRAINED": checkpoint.splitlines()[-1]}
    announce("vendor: starting the service on loopback")
    with local_vendor(env, plan.logs / "vendor.log") as vendor:
        api_key = create_api_key(vendor.base_url, vendor.admin_token, "demo", plan.budget)
        yield VendorAccess(vendor.base_url, api_key)


def _key_for(url: str, plan: VendorPlan) -> str:
    if plan.api_key:
        return plan.api_key
    if not plan.admin_token:
        raise ValueError(
            "a remote vendor needs VENDOR_API_KEY, or VENDOR_ADMIN_TOKEN to create one"
        )
    return create_api_key(url, plan.admin_token, "demo", plan.budget)
