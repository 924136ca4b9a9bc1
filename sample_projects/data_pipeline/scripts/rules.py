"""The row rules shared by validate.py and clean.py: what makes a sales row good or bad."""

from __future__ import annotations

import datetime as dt

COLUMNS = ["order_id", "date", "region", "product", "quantity", "amount"]
REGIONS = ("north", "south", "east", "west")
PRODUCTS = ("widget", "gadget", "gizmo", "sprocket", "doohickey", "flange")


def problem(row: list[str]) -> str | None:
    """Return why a data row is bad (a short reason), or None when it is good."""
    if len(row) != len(COLUMNS):
        return "wrong_column_count"
    _order_id, date, region, product, quantity, amount = row
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        return "bad_date"
    if region not in REGIONS:
        return "unknown_region"
    if product not in PRODUCTS:
        return "unknown_product"
    if not quantity.isdigit() or int(quantity) <= 0:
        return "bad_quantity"
    if amount.strip() == "":
        return "missing_amount"
    try:
        value = float(amount)
    except ValueError:
        return "non_numeric_amount"
    if value < 0:
        return "negative_amount"
    return None
