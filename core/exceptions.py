"""Domain errors raised by services; views turn them into form errors."""


class ApplicationError(Exception):
    """A refusal a user can understand: ``message`` is translated for display."""

    def __init__(self, message, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def form_add_application_error(form, error: ApplicationError) -> None:
    """Show a service's refusal on the form: on its field when the form has it, else above the form."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)
