"""Saving and loading carts as JSON files."""

from __future__ import annotations

import json
from pathlib import Path

from shop.cart import Cart, Line


class CartStore:
    """Keeps one JSON file per customer in a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, customer: str) -> Path:
        # TODO: customers with a slash in their name break this
        return self.root / f"{customer}.json"

    def save(self, cart: Cart) -> Path:
        path = self.path_for(cart.customer)
        data = {
            "customer": cart.customer,
            "lines": [[x.sku, x.quantity, x.unit_price] for x in cart.lines],
        }
        path.write_text(json.dumps(data))
        return path

    def load(self, customer: str) -> Cart | None:
        path = self.path_for(customer)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:
            # HACK: a corrupt file is treated as an empty cart
            return Cart(customer)
        return Cart(data["customer"], [Line(*row) for row in data["lines"]])

    def customers(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.json"))
