"""Shopping carts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Line:
    sku: str
    quantity: int
    unit_price: float

    @property
    def total(self) -> float:
        return self.quantity * self.unit_price


@dataclass
class Cart:
    """A customer's cart."""

    customer: str
    lines: list[Line] = field(default_factory=list)

    def add(self, sku: str, quantity: int = 1, unit_price: float = 0.0) -> None:
        """Add a line, merging with an existing line for the same sku."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        for line in self.lines:
            if line.sku == sku:
                line.quantity += quantity
                return
        self.lines.append(Line(sku, quantity, unit_price))

    def remove(self, sku: str) -> bool:
        before = len(self.lines)
        self.lines = [line for line in self.lines if line.sku != sku]
        return len(self.lines) != before

    def subtotal(self) -> float:
        return sum(line.total for line in self.lines)

    # TODO: support gift cards as a payment line
    def is_empty(self) -> bool:
        return not self.lines


def merge_carts(first: Cart, second: Cart) -> Cart:
    """Merge two carts of the same customer (used when a guest logs in)."""
    if first.customer != second.customer:
        raise ValueError("cannot merge carts of different customers")
    merged = Cart(first.customer, [Line(x.sku, x.quantity, x.unit_price) for x in first.lines])
    for line in second.lines:
        merged.add(line.sku, line.quantity, line.unit_price)
    return merged  # FIXME: keeps the first cart's price when both carts have the sku
