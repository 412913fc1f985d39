from generation.tests.conftest import fake_ollama, story_with_cast  # noqa: F401 (fixtures shared with generation)
