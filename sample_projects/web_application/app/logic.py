"""The app's pure logic: the catalogue, searching it, and routing a request to a response.

Nothing here does I/O, so it is easy to test; app/server.py only adapts it to http.server.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import parse_qs, urlsplit

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
SORT_KEYS = ("id", "name", "price", "-price")


@dataclass(frozen=True)
class Item:
    """One thing in the catalogue."""

    id: int
    name: str
    category: str
    price: float
    stock: int


CATALOGUE: tuple[Item, ...] = (
    Item(1, "Desk lamp", "lighting", 24.90, 12),
    Item(2, "Floor lamp", "lighting", 89.00, 3),
    Item(3, "LED strip", "lighting", 15.50, 0),
    Item(4, "Oak desk", "furniture", 349.00, 2),
    Item(5, "Office chair", "furniture", 179.00, 7),
    Item(6, "Bookshelf", "furniture", 129.00, 0),
    Item(7, "Notebook", "stationery", 3.20, 250),
    Item(8, "Fountain pen", "stationery", 42.00, 18),
    Item(9, "Desk organiser", "stationery", 19.99, 9),
    Item(10, "Monitor arm", "accessories", 64.00, 5),
)


class BadRequest(ValueError):
    """A query parameter has a value the API does not accept."""


def parse_limit(value: str | None) -> int:
    """Parse the `limit` query parameter: an integer from 1 to MAX_LIMIT."""
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise BadRequest(f"limit must be an integer, got {value!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def parse_bool(value: str | None) -> bool | None:
    """Parse a yes/no query parameter; None when it is absent."""
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise BadRequest(f"expected true or false, got {value!r}")


def search_items(
    items: tuple[Item, ...] | list[Item],
    query: str | None = None,
    category: str | None = None,
    in_stock: bool | None = None,
    sort: str = "id",
    limit: int = DEFAULT_LIMIT,
) -> list[Item]:
    """Filter, sort and truncate the catalogue."""
    if sort not in SORT_KEYS:
        raise BadRequest(f"sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}")
    found = list(items)
    if query:
        needle = query.casefold()
        found = [i for i in found if needle in i.name.casefold()]
    if category:
        found = [i for i in found if i.category == category]
    if in_stock is not None:
        found = [i for i in found if (i.stock > 0) == in_stock]
    key = sort.lstrip("-")
    found.sort(key=lambda i: getattr(i, key), reverse=sort.startswith("-"))
    return found[:limit]


def get_item(items: tuple[Item, ...] | list[Item], item_id: int) -> Item | None:
    """The item with this id, or None."""
    return next((i for i in items if i.id == item_id), None)


def health(version: str, uptime_seconds: float) -> dict[str, object]:
    """The body of GET /health."""
    return {
        "status": "ok",
        "version": version,
        "uptime_seconds": round(uptime_seconds, 3),
        "items": len(CATALOGUE),
    }


def handle(
    method: str,
    target: str,
    version: str,
    uptime_seconds: float,
    items: tuple[Item, ...] = CATALOGUE,
) -> tuple[int, dict[str, object]]:
    """Route one request (method and request target) to an HTTP status and a JSON body."""
    parts = urlsplit(target)
    path = parts.path.rstrip("/") or "/"
    params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if method != "GET":
        return 405, {"error": f"method {method} not allowed"}
    try:
        if path == "/health":
            return 200, health(version, uptime_seconds)
        if path == "/api/items":
            found = search_items(
                items,
                query=params.get("q"),
                category=params.get("category"),
                in_stock=parse_bool(params.get("in_stock")),
                sort=params.get("sort", "id"),
                limit=parse_limit(params.get("limit")),
            )
            return 200, {"count": len(found), "items": [asdict(i) for i in found]}
        if path.startswith("/api/items/"):
            raw_id = path.removeprefix("/api/items/")
            if not raw_id.isdigit():
                return 400, {"error": f"item id must be a number, got {raw_id!r}"}
            item = get_item(items, int(raw_id))
            if item is None:
                return 404, {"error": f"no item with id {raw_id}"}
            return 200, asdict(item)
    except BadRequest as exc:
        return 400, {"error": str(exc)}
    return 404, {"error": f"no route for {path}"}
