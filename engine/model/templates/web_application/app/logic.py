"""Pure functions behind the web application, easy to unit test."""

import re


def slugify(title: str) -> str:
    """Lowercase words joined by dashes: "Hello, World!" -> "hello-world"."""
    return "-".join(re.findall(r"[a-z0-9]+", title.lower()))


def paginate(items: list, page: int, per_page: int = 10) -> list:
    """The items of 1-based page ``page``; an empty list past the end."""
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page must be at least 1")
    return items[(page - 1) * per_page : page * per_page]
