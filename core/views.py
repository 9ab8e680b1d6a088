"""The one HTML mapping of a ``DomainError``: the refusal is shown to the person, beside the form
field it names (or above the form), or as an error message on the page; never a 500."""

from django.contrib import messages

from .errors import DomainError


class domain_errors_shown:  # noqa: N801 - used like contextlib.suppress
    """``with domain_errors_shown(request, form=form) as shown: service(...)``: a DomainError raised in
    the block is shown (see ``show_domain_error``) and kept as ``shown.error``, so the view goes on to
    re-render its form or to the next item; any other exception passes through."""

    def __init__(self, request, *, form=None, about: str = ""):
        self.request, self.form, self.about = request, form, about
        self.error: DomainError | None = None

    def __enter__(self) -> "domain_errors_shown":
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if not isinstance(error, DomainError):
            return False
        self.error = error
        show_domain_error(self.request, error, form=self.form, about=self.about)
        return True


def show_domain_error(request, error: DomainError, *, form=None, about: str = "") -> None:
    """On the form's field the error names (or the whole form); without a form, as an error message
    (``about`` first: what it refused, when a page acts on several things)."""
    if form is not None:
        form.add_error(error.field if error.field in form.fields else None, error.message)
    else:
        messages.error(request, f"{about}: {error.message}" if about else error.message)
