from asgiref.sync import async_to_sync


def streamed_body(response) -> bytes:
    """The body of a response streamed from an asynchronous iterator (as daphne sends it)."""

    async def read():
        return b"".join([block async for block in response.streaming_content])

    return async_to_sync(read)()
