"""What an outside service's failure looks like to the rest of the app (a language model, an image service): a
message for the writer and a hint at what would fix it. A task that meets one stops with that message."""


class ServiceError(Exception):
    def __init__(self, message: str, *, hint: str = ""):
        super().__init__(f"{message} {hint}".strip())
        self.message = message
        self.hint = hint
