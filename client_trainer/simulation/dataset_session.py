"""An experiment on a data set of the user's own (`--data-root`): no world, no local vendor.

A real data set needs a real teacher, so the vendor is the one the config names
(`--vendor-url` / VENDOR_URL) with its API key (`--api-key` / VENDOR_API_KEY); the local
vendor the simulation starts serves the offline world's teacher only, and is never started
here. A vendor that does not answer, or refuses the key, is a clear error before anything is
bought. The client's Redis is the configured one, else an embedded server shared by the runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from client_trainer.config import RunConfig
from client_trainer.data.domainbed import scan_dataset
from client_trainer.purchase.session import EMBEDDED_REDIS_DIR
from client_trainer.simulation.session import Session, experiment_tag
from client_trainer.teacher.client import TeacherClient
from client_trainer.teacher.errors import TeacherError, TeacherHTTPError, TeacherUnavailable
from shared.redis_server import redis_url_from_env, resolve_redis
from shared.schemas import ModelCard

Announce = Callable[[str], None]
CHECK_ATTEMPTS = 2  # a vendor that is down should fail the command fast, not after minutes


class VendorNotReady(TeacherError):
    """No vendor, or one that refuses the API key: what to give instead."""


def _check(base: RunConfig) -> ModelCard:
    teacher = base.teacher
    key = teacher.api_key.get_secret_value()
    if not key:
        raise VendorNotReady(
            "a data set of your own needs a vendor's API key: give --api-key (or"
            " VENDOR_API_KEY) with --vendor-url (or VENDOR_URL)"
        )

    async def ask() -> ModelCard:
        async with TeacherClient(
            teacher.vendor_url, key, model=teacher.model, max_attempts=CHECK_ATTEMPTS,
            timeout_s=min(teacher.timeout_s, 30.0),
        ) as client:  # fmt: skip
            card = await client.card()
            await client.usage()  # the key is valid (models need none)
            return card

    try:
        return asyncio.run(ask())
    except TeacherUnavailable as exc:
        raise VendorNotReady(
            f"no vendor answers at {teacher.vendor_url}: start one serving real CLIP weights"
            " (python -m vendor_service serve) and give its --vendor-url and --api-key; the"
            " local vendor serves the offline world only, without --data-root"
        ) from exc
    except TeacherHTTPError as exc:
        raise VendorNotReady(f"the vendor at {teacher.vendor_url} refused: {exc}") from exc


@contextmanager
def dataset_session(base: RunConfig, out_dir: Path, announce: Announce) -> Iterator[Session]:
    """The data set's domains and the base config of every run (runs in `out_dir`/runs)."""
    index = scan_dataset(base.data.root, base.data.dataset)  # a DataError names what is wrong
    card = _check(base)
    announce(
        f"data: {base.data.dataset} at {base.data.root}, {len(index.paths)} images,"
        f" domains {', '.join(index.domains)}; teacher {card.id} at {base.teacher.vendor_url}"
    )
    redis = resolve_redis(
        base.teacher.redis_url or redis_url_from_env(), EMBEDDED_REDIS_DIR, "client_trainer"
    )
    try:
        runs = base.with_overrides(
            {"teacher.redis_url": redis.url, "output.out_dir": out_dir / "runs"}
        )
        yield Session(runs, index.domains, experiment_tag(out_dir))
    finally:
        redis.close()
