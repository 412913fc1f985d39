"""Moving API tokens into the api app keeps every token: a database at the schema before the move, with a token in
it, comes out of the migrations with the token still signing its program in."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from api.models import ApiToken
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("generation", "0008_generationtask_picture_alter_generationtask_mode"), ("api", None)]


def test_an_upgrade_from_before_the_move_keeps_tokens_working():
    writer = make_user()
    _, key = ApiToken.issue(writer, "before")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state([BEFORE[0]]).apps
    assert old.get_model("generation", "ApiToken").objects.get().name == "before"

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert ApiToken.authenticate(key) == writer
