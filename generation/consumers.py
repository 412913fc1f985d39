from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from stories.live import access_group

from .live import render_panel
from .models import GenerationTask

NOT_FOUND = 4404


class TaskConsumer(AsyncWebsocketConsumer):
    """Streams one task to its owner. It only authorises, joins the task's group and forwards HTML; the worker
    renders everything. On (re)connect it first sends the current state, so a reload resumes mid-stream."""

    async def connect(self):
        user = self.scope["user"]
        task_id = self.scope["url_route"]["kwargs"]["task_id"]
        task = await self.get_task(user, task_id)
        if task is None:
            await self.close(code=NOT_FOUND)
            return
        self.group = task.group_name
        self.access = access_group(task.story_id, user.pk)  # closed at once if the user loses the story
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(self.access, self.channel_name)
        await self.accept()
        await self.send(text_data=await self.render(task))

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(self.access, self.channel_name)

    async def access_revoked(self, event):
        await self.close(code=NOT_FOUND)

    async def task_update(self, event):
        await self.send(text_data=event["html"])

    async def task_tokens(self, event):
        await self.send(text_data=event["html"])

    @database_sync_to_async
    def get_task(self, user, task_id):
        if not user.is_authenticated:
            return None
        return GenerationTask.objects.for_user(user).filter(pk=task_id).select_related("story").first()

    @database_sync_to_async
    def render(self, task):
        return render_panel(task)
