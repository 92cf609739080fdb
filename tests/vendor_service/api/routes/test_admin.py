"""Admin routes: only the admin token gets in; create, show, top up, revoke."""

from __future__ import annotations

from tests.support.errors import assert_error
from tests.vendor_service.conftest import VendorApp, admin_headers


async def test_admin_auth(vendor_app: VendorApp) -> None:
    body = {"name": "x", "budget": 5}
    client = vendor_app.client
    assert_error(await client.post("/v1/admin/keys", json=body), 401, "missing_api_key")
    wrong = {"Authorization": "Bearer not-the-admin-token-at-all"}
    assert_error(await client.post("/v1/admin/keys", json=body, headers=wrong), 401,
                 "invalid_api_key")  # fmt: skip
    _, api_key = await vendor_app.create_key(budget=5)
    as_key = {"Authorization": f"Bearer {api_key}"}
    assert_error(await client.post("/v1/admin/keys", json=body, headers=as_key), 403, "admin_only")


async def test_key_lifecycle(vendor_app: VendorApp) -> None:
    client, admin = vendor_app.client, admin_headers()
    created = await client.post("/v1/admin/keys", json={"name": "lab", "budget": 40}, headers=admin)
    assert created.status_code == 201
    key = created.json()
    assert key["api_key"].startswith(f"vk-{key['key_id']}-") and key["budget"] == 40
    shown = (await client.get(f"/v1/admin/keys/{key['key_id']}", headers=admin)).json()
    assert "api_key" not in shown and "secret_hash" not in shown
    assert (shown["budget"], shown["spent"], shown["remaining"]) == (40, 0, 40)
    topped = await client.post(
        f"/v1/admin/keys/{key['key_id']}/topup", json={"amount": 10}, headers=admin
    )
    assert topped.json()["budget"] == 50 and topped.json()["remaining"] == 50
    revoked = await client.delete(f"/v1/admin/keys/{key['key_id']}", headers=admin)
    assert revoked.json()["revoked"] is True


async def test_admin_bad_input(vendor_app: VendorApp) -> None:
    client, admin = vendor_app.client, admin_headers()
    assert_error(await client.get("/v1/admin/keys/ffffffffffff", headers=admin), 404, "not_found")
    for body in ({"name": "", "budget": 1}, {"name": "x", "budget": -1}, {"name": "x"}):
        response = await client.post("/v1/admin/keys", json=body, headers=admin)
        assert_error(response, 422, "invalid_request")
    response = await client.post(
        "/v1/admin/keys/ffffffffffff/topup", json={"amount": 0}, headers=admin
    )
    assert_error(response, 422, "invalid_request")
