"""A toy shop: carts, pricing rules and storage."""
