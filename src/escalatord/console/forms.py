"""The console's forms: `application/x-www-form-urlencoded` bodies, read with the standard
library (the console's forms send no files, so python-multipart is not needed).

Each field is given once; a repeated one keeps its first value. Bodies larger than MAX_BODY
or with more than MAX_FIELDS fields are refused (413, 400), and so is another content type (415).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

MAX_BODY = 64 * 1024  # a close note is the longest thing a person types here
MAX_FIELDS = 50
FORM_TYPE = "application/x-www-form-urlencoded"


class BadForm(Exception):
    """A body that is not a console form; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def read_form(request: Request) -> dict[str, str]:
    """The request's form fields by name."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise BadForm(415, "This address takes a form posted from the console's own pages.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadForm(413, "The form is too large.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
            max_num_fields=MAX_FIELDS,
        )  # fmt: skip
    except (UnicodeDecodeError, ValueError):
        raise BadForm(400, "The form could not be read.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form
