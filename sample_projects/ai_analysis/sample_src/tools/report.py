"""Turn carts into a sales report."""

from __future__ import annotations

import asyncio
from collections import Counter

from shop.cart import Cart

from tools.textutil import columns, truncate


def best_sellers(carts: list[Cart], top: int = 3) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for cart in carts:
        for line in cart.lines:
            counts[line.sku] += line.quantity
    return counts.most_common(top)


def render(carts: list[Cart]) -> str:
    rows = [
        (truncate(c.customer, 12), len(c.lines), f"{c.subtotal():.2f}")
        for c in carts
        if not c.is_empty()
    ]
    return columns(rows, 12, 5, 10)


async def fetch_all(loader, customers, limit=4):
    """Load many carts concurrently, at most `limit` at a time."""
    gate = asyncio.Semaphore(limit)

    async def one(name):
        async with gate:
            return await loader(name)

    results = await asyncio.gather(*(one(n) for n in customers), return_exceptions=True)
    return [r for r in results if isinstance(r, Cart)]  # FIXME: errors are silently dropped
