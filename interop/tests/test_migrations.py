"""Moving the manuscript import into interop keeps every row: a database at the schema before the move, with an
import waiting and an upload queued for the old job, comes out of the migrations with both where the code looks."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core.models import Upload
from interop.models import ManuscriptImport
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("stories", "0004_manuscript_splits"), ("interop", None), ("storyassistant", "0005_upload_peak_memory")]


def test_an_upgrade_from_before_the_move_keeps_imports_and_waiting_uploads():
    writer = make_user()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state([node for node in BEFORE if node[1]]).apps
    old.get_model("stories", "ManuscriptImport").objects.create(
        owner_id=writer.pk, filename="saltmere.md", source_format="md", text="# One\n\nThe tide.", word_count=3
    )
    old.get_model("storyassistant", "Upload").objects.create(
        owner_id=writer.pk, kind="manuscript", filename="next.md", job="stories.tasks.read_manuscript"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    imported = ManuscriptImport.objects.get()
    assert (imported.filename, imported.text, imported.owner_id) == ("saltmere.md", "# One\n\nThe tide.", writer.pk)
    assert Upload.objects.get().job == "interop.tasks.read_manuscript"
