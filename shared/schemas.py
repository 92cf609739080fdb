"""Request and response bodies of the REST contract (OpenAI-embeddings-compatible).

Money is counted in integer *credits*: prices, budgets and spend are exact integers, so the
ledger adds up to the unit.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _valid_unicode(value: str) -> str:
    """JSON escapes (`"\\ud800"`) can carry lone surrogates, which no UTF-8 encoder accepts
    (hashing, Redis, the tokenizer): such a string is not text, and is refused as a 422."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("is not valid Unicode text (it holds a lone surrogate)") from exc
    return value


# A string that can travel as UTF-8 (every string field a caller sends).
WireStr = Annotated[str, AfterValidator(_valid_unicode)]


class Modality(StrEnum):
    TEXT = "text"
    IMAGE = "image"


class EncodingFormat(StrEnum):
    FLOAT = "float"
    # Little-endian float32 bytes, base64-encoded (what the openai SDK asks for by default).
    BASE64 = "base64"


class EmbeddingRequest(BaseModel):
    """`POST /v1/embeddings`. For images each input is base64 or a `data:image/...;base64,` URI."""

    model_config = ConfigDict(extra="forbid")

    model: WireStr = Field(description="Model id from GET /v1/models.")
    input: WireStr | list[WireStr] = Field(description="One input or a list of inputs.")
    modality: Modality = Field(default=Modality.TEXT, description="What the inputs are.")
    encoding_format: EncodingFormat = Field(default=EncodingFormat.FLOAT)
    # Accepted for OpenAI compatibility; `dimensions` must equal the model's dimension.
    dimensions: int | None = Field(default=None, ge=1)
    user: WireStr | None = Field(default=None, max_length=256)

    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int
    images: int
    texts: int
    cost: int = Field(description="Credits charged for this request.")
    budget_remaining: int = Field(description="Credits left on the key after this request.")


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: EmbeddingUsage


class PretrainedSource(BaseModel):
    """What `VENDOR_PRETRAINED` loaded into the model on sale (`/v1/models`): where it came
    from and its file's fingerprint, never a parameter of the model."""

    source: Literal["tag", "file", "directory", "random"]
    name: str = Field(
        description="The open_clip pretrained tag, the loaded file's name (never its path), "
        "or random<seed>."
    )
    sha256: str | None = Field(default=None, description="Of the loaded file; none otherwise.")
    format: Literal["state-dict", "safetensors", "torchscript"] | None = Field(
        default=None,
        description="The file's format: a torch state dict, safetensors, or "
        "OpenAI's TorchScript archive.",
    )


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    owned_by: str = "vendor"
    pretrained: PretrainedSource | None = None

    embedding_dim: int
    image_size: int
    context_length: int
    price_per_image: int
    price_per_text: int
    max_inputs_per_request: int
    max_image_bytes: int
    # None from a vendor that does not state it; the client then assumes the codec's default.
    max_image_pixels: int | None = Field(
        default=None, description="Most width x height of one image, as its header declares."
    )
    max_text_chars: int


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class UsageReport(BaseModel):
    """`GET /v1/usage`: the caller's own account. Always budget == spent + remaining."""

    key_id: str
    name: str
    budget: int
    spent: int
    remaining: int
    reserved: int = Field(description="Credits held by requests in flight (part of remaining).")
    images: int
    texts: int
    requests: int
    revoked: bool = False


class CreateKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: WireStr = Field(min_length=1, max_length=128)
    budget: int = Field(ge=0, le=10**15)


class CreatedKey(BaseModel):
    key_id: str
    api_key: str = Field(description="The secret; shown once, stored only as a hash.")
    name: str
    budget: int


class TopUpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=10**15)


class KeyInfo(UsageReport):
    """Admin view of a key (same fields as the caller's own usage)."""
