"""Domain errors raised by services; views turn them into form errors."""


class ApplicationError(Exception):
    """A refusal a user can understand: ``message`` is translated for display."""

    def __init__(self, message, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
