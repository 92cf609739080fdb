"""The quote: what a job would buy (planned by the buying code itself), what the cache holds,
what the rest costs at the vendor's prices; nothing is bought."""

from __future__ import annotations

import httpx
import pytest
import redis

from client_trainer.config import RunConfig
from client_trainer.data.augment import FAMILIES
from client_trainer.data.splits import load_task
from client_trainer.purchase.quote import Plan, plan_job
from shared.schemas import ModelCard, ModelList
from tests.client_trainer.tree import CLASSES, DOMAINS
from tests.support.run_config import with_vendor

CARD = ModelCard(
    id="tiny@quote", embedding_dim=8, image_size=32, context_length=16, price_per_image=10,
    price_per_text=1, max_inputs_per_request=64, max_image_bytes=1 << 20, max_text_chars=300,
)  # fmt: skip
N_IMAGES = len(DOMAINS) * len(CLASSES) * 6


class ModelsOnly(httpx.AsyncBaseTransport):
    """A vendor that answers /v1/models and refuses to sell: a quote must not buy."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/models", f"the quote sent {request.url.path}"
        return httpx.Response(200, json=ModelList(data=[CARD]).model_dump(mode="json"))


@pytest.fixture
def base(quick: RunConfig, redis_url: str, redis_prefix: str) -> RunConfig:
    return with_vendor(quick, "http://vendor.invalid", "key", redis_url, redis_prefix)


def _plan(configs: list[RunConfig]) -> Plan:
    plan = plan_job(configs, ModelsOnly())
    assert plan is not None
    return plan


def _runs(base: RunConfig, *methods: str, **fields: object) -> list[RunConfig]:
    return [base.with_overrides({"train.method": m, **fields}) for m in methods]


def test_clean_targets_are_the_training_images_and_the_prompts(base: RunConfig) -> None:
    n_train = len(load_task(base.data, 0).train)
    quote = _plan(_runs(base, "vl2v-adip", "kd")).quote  # the same purchases: counted once
    assert (quote.images, quote.texts, quote.per_step_images) == (n_train, len(CLASSES), 0)
    assert quote.cost == n_train * 10 + len(CLASSES)
    assert quote.model == "tiny@quote" and quote.runs == 2


def test_zero_shot_adds_the_holdout_and_target_images(base: RunConfig) -> None:
    quote = _plan(_runs(base, "vl2v-adip", "zero-shot")).quote
    assert quote.images == N_IMAGES


def test_views_and_per_step_targets(base: RunConfig) -> None:
    n_train = len(load_task(base.data, 0).train)
    views = _plan(_runs(base, "kd", **{"teacher.targets": "views:2"})).quote
    assert views.images == 2 * n_train
    per_step = _plan(_runs(base, "vl2v-adip", "kd", **{"teacher.targets": "per-step"})).quote
    batch = base.train.batch_per_domain * (len(DOMAINS) - 1)
    # ADiP buys in its align and distill stages, KD in its one; an upper bound.
    assert per_step.per_step_images == (2 + 1) * base.train.steps * batch
    assert per_step.cost == per_step.per_step_images * 10 + len(CLASSES)


def test_what_the_cache_holds_is_not_quoted_again(
    base: RunConfig, redis_url: str, redis_prefix: str
) -> None:
    first = _plan(_runs(base, "zero-shot"))
    texts = first.queries[next(m for m in first.queries if m.value == "text")]
    client = redis.Redis.from_url(redis_url)
    client.mset({f"{redis_prefix}emb:{q.key}": b"\0" * 32 for q in texts})
    client.close()
    again = _plan(_runs(base, "zero-shot")).quote
    assert (again.texts_cached, again.texts_to_buy) == (len(CLASSES), 0)
    assert again.cost == first.quote.cost - len(CLASSES)


def test_a_job_without_the_teacher_has_no_quote(base: RunConfig) -> None:
    assert plan_job(_runs(base, "erm", "lp-ft"), ModelsOnly()) is None


def test_the_align_stage_alone_buys_per_step_targets_in_one_stage(base: RunConfig) -> None:
    quote = _plan(_runs(base, "vl2v-adip-align", **{"teacher.targets": "per-step"})).quote
    batch = base.train.batch_per_domain * (len(DOMAINS) - 1)
    assert quote.per_step_images == base.train.steps * batch


def test_a_teacher_consistent_clean_run_quotes_its_probe_views(base: RunConfig) -> None:
    n_train = len(load_task(base.data, 0).train)
    fields = {"train.augment": "teacher-consistent", "train.augment_probe_images": 5}
    standard = _runs(base, "vl2v-adip")
    quote = _plan([*standard, *_runs(base, "vl2v-adip", "kd", **fields)]).quote
    assert quote.images == n_train + 5 * (1 + len(FAMILIES))  # the probe once, for both runs


def test_per_step_counts_the_align_stage_at_its_own_steps(base: RunConfig) -> None:
    fields = {"teacher.targets": "per-step", "train.align_steps": 40}
    quote = _plan(_runs(base, "vl2v-adip", **fields)).quote
    batch = base.train.batch_per_domain * (len(DOMAINS) - 1)
    assert quote.per_step_images == (40 + base.train.steps) * batch


def test_buying_the_holdout_alignment_quotes_the_holdout_images(base: RunConfig) -> None:
    task = load_task(base.data, 0)
    cached = _plan(_runs(base, "vl2v-adip")).quote  # the default reads the cache only
    bought = _plan(_runs(base, "vl2v-adip", **{"train.holdout_alignment": "buy"})).quote
    assert bought.images == cached.images + len(task.holdout)
    both = {"train.holdout_alignment": "buy", "train.target_alignment": True}
    research = _plan(_runs(base, "vl2v-adip", **both)).quote
    assert research.images == cached.images + len(task.holdout) + len(task.target)
