import asyncio

import pytest
from channels.layers import get_channel_layer


@pytest.mark.asyncio
async def test_a_websocket_can_wait_quietly_longer_than_the_redis_socket_default(redis_conn):
    """A consumer waits for messages across quiet stretches (a queued task, a model loading)."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(7)  # longer than redis-py's 5 s default socket timeout
    assert not receiving.done(), receiving.exception() if receiving.done() else None
    await layer.send(channel, {"type": "task.update", "html": "<p>later</p>"})
    assert (await asyncio.wait_for(receiving, 5))["html"] == "<p>later</p>"
    await layer.flush()
