"""What every page says about the AI team's state."""

from agents.services import llm


def builtin_model(request) -> dict:
    """While the built-in model's engine is still being built (right after a first `make run`), pages say so."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"model_preparing": llm.builtin_preparing()}
