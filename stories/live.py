"""Live messages about a story's people: when someone's rights change, their open pages and websockets hear it at
once (consumers join `access_group` and close when told)."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def access_group(story_id, user_id) -> str:
    return f"access.{story_id}.{user_id}"


def revoke_access(story_id, user_id):
    """Close the user's open websockets on the story; a page that reconnects is authorised afresh."""
    try:
        for alias in ("default", "drafts"):  # task streams, chapters written together
            async_to_sync(get_channel_layer(alias).group_send)(
                access_group(story_id, user_id), {"type": "access.revoked"}
            )
    except Exception:  # noqa: BLE001 - the change is stored; consumers also re-check access on every message
        logger.warning("could not tell open pages of story %s that access changed", story_id, exc_info=True)
