"""hang_up_check: whether the caller left, asked of `receive` without waiting for it."""

from __future__ import annotations

import asyncio

from starlette.types import Message

from vendor_service.api.disconnect import hang_up_check


async def test_a_server_that_knows_the_client_left_is_believed() -> None:
    async def receive() -> Message:
        return {"type": "http.disconnect"}

    assert hang_up_check(receive)() is True


async def test_a_receive_that_would_wait_means_the_caller_is_there() -> None:
    event = asyncio.Event()  # what uvicorn's receive waits on while the connection is quiet
    disconnected = False

    async def receive() -> Message:
        await event.wait()
        return {"type": "http.disconnect" if disconnected else "http.request"}

    check = hang_up_check(receive)
    assert check() is False
    assert not event._waiters  # the abandoned step left no waiter
    disconnected = True
    event.set()
    assert check() is True


async def test_once_gone_receive_is_not_asked_again() -> None:
    calls = 0

    async def receive() -> Message:
        nonlocal calls
        calls += 1
        return {"type": "http.disconnect"}

    check = hang_up_check(receive)
    assert check() and check()
    assert calls == 1


async def test_a_future_as_receive_works_too() -> None:
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[Message] = loop.create_future()
    assert hang_up_check(lambda: pending)() is False
    ready: asyncio.Future[Message] = loop.create_future()
    ready.set_result({"type": "http.disconnect"})
    assert hang_up_check(lambda: ready)() is True
