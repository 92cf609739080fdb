"""The request path's dependencies: how many FastAPI resolves per sale, and what the spec says."""

from __future__ import annotations

from fastapi.routing import APIRoute

from tests.vendor_service.conftest import VendorApp
from vendor_service.api.routes import embeddings


def test_a_sale_resolves_a_single_dependency() -> None:
    # Each resolved dependency costs CPU on every request: authentication does all of its
    # work in one.
    (route,) = [r for r in embeddings.router.routes if isinstance(r, APIRoute)]
    dependant = route.dependant
    assert [type(d.call).__name__ for d in dependant.dependencies] == ["ApiKeyAuth"]
    assert dependant.dependencies[0].dependencies == []


async def test_the_spec_still_declares_bearer_auth(vendor_app: VendorApp) -> None:
    schema = (await vendor_app.client.get("/openapi.json")).json()
    scheme = schema["components"]["securitySchemes"]["HTTPBearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, method in (("/v1/embeddings", "post"), ("/v1/usage", "get"),
                         ("/v1/admin/keys", "post")):  # fmt: skip
        assert schema["paths"][path][method]["security"] == [{"HTTPBearer": []}]
    parameters = schema["paths"]["/v1/embeddings"]["post"]["parameters"]
    assert [p["name"] for p in parameters] == ["Idempotency-Key"]
