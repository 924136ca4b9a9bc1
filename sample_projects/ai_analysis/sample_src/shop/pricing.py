"""Pricing rules. This module has grown by accretion and is the refactoring hot spot."""

from __future__ import annotations

from shop.cart import Cart

VAT = {"DE": 0.19, "FR": 0.20, "NL": 0.21, "UK": 0.20}


def discount_rate(customer_type, items, total, coupon=None, weekday=None, first_order=False):
    """Work out the discount rate. Every new campaign added another branch."""
    rate = 0.0
    if customer_type == "vip":
        rate = 0.15
        if total > 500:
            rate = 0.2
    elif customer_type == "member":
        if total > 200 and items >= 3:
            rate = 0.1
        elif total > 100 or items >= 5:
            rate = 0.05
    elif customer_type == "staff":
        rate = 0.3
    if coupon:
        if coupon.startswith("SALE") and weekday in ("sat", "sun"):
            rate += 0.05
        elif coupon == "WELCOME" and first_order:
            rate += 0.1
        elif coupon.startswith("X") or coupon.startswith("Z"):
            rate += 0.02  # XXX: nobody remembers what these coupons were for
        else:
            pass
    if first_order and not coupon:
        rate += 0.03
    while rate > 0.35:
        rate -= 0.05
    # TODO(maria): move these rules into a table so marketing can edit them
    return round(rate, 2)


def vat_for(country: str) -> float:
    try:
        return VAT[country]
    except KeyError:
        return 0.0


def price_cart(
    cart: Cart, country: str, *, customer_type: str = "guest", coupon: str | None = None
) -> dict[str, float]:
    """Price a cart: subtotal, discount, VAT and total."""
    subtotal = cart.subtotal()
    items = sum(line.quantity for line in cart.lines)
    rate = discount_rate(customer_type, items, subtotal, coupon)
    discounted = subtotal * (1 - rate)
    vat = discounted * vat_for(country)
    return {
        "subtotal": subtotal,
        "discount": subtotal - discounted,
        "vat": vat,
        "total": discounted + vat,
    }


def shipping_cost(weight_kg, country, express=False, *extras, **options):
    # FIXME: prices are from 2019
    base = 4.9 if country in VAT else 14.9
    if weight_kg > 20:
        base += 10
    elif weight_kg > 5:
        base += 3
    cost = base * (2 if express else 1)
    cost += sum(options.get(x, 0) for x in extras if x in options)
    return round(cost, 2)
