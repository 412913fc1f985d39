import asyncio

from channels.layers import get_channel_layer

from tests.test_live_generation import run_async


def test_a_websocket_can_wait_quietly_longer_than_the_redis_socket_default(redis_conn):
    """A consumer waits for messages across quiet stretches (a queued task, a model loading)."""

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        receiving = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(7)  # longer than redis-py's 5 s default socket timeout
        failed = receiving.exception() if receiving.done() else None
        await layer.send(channel, {"type": "task.update", "html": "<p>later</p>"})
        message = await asyncio.wait_for(receiving, 5) if failed is None else None
        await layer.flush()
        return failed, message

    failed, message = run_async(scenario())
    assert failed is None, failed
    assert message["html"] == "<p>later</p>"
