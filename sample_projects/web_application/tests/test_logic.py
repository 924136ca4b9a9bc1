"""Tests of app.logic: parsing, searching and routing."""

from __future__ import annotations

import unittest

from app.logic import (
    CATALOGUE,
    MAX_LIMIT,
    BadRequest,
    get_item,
    handle,
    parse_bool,
    parse_limit,
    search_items,
)


class ParseTests(unittest.TestCase):
    def test_limit_defaults_and_bounds(self) -> None:
        self.assertEqual(parse_limit(None), 20)
        self.assertEqual(parse_limit(""), 20)
        self.assertEqual(parse_limit("5"), 5)
        self.assertEqual(parse_limit(str(MAX_LIMIT)), MAX_LIMIT)
        for bad in ("0", "-1", str(MAX_LIMIT + 1), "ten", "1.5"):
            with self.subTest(bad=bad), self.assertRaises(BadRequest):
                parse_limit(bad)

    def test_bool(self) -> None:
        self.assertIsNone(parse_bool(None))
        self.assertTrue(parse_bool("yes"))
        self.assertTrue(parse_bool("TRUE"))
        self.assertFalse(parse_bool("0"))
        with self.assertRaises(BadRequest):
            parse_bool("maybe")


class SearchTests(unittest.TestCase):
    def test_no_filters_returns_everything_in_id_order(self) -> None:
        found = search_items(CATALOGUE)
        self.assertEqual([i.id for i in found], sorted(i.id for i in CATALOGUE))

    def test_query_is_case_insensitive_substring(self) -> None:
        names = [i.name for i in search_items(CATALOGUE, query="LAMP")]
        self.assertEqual(names, ["Desk lamp", "Floor lamp"])

    def test_category_and_stock_filters(self) -> None:
        found = search_items(CATALOGUE, category="lighting", in_stock=True)
        self.assertEqual([i.id for i in found], [1, 2])
        out_of_stock = search_items(CATALOGUE, in_stock=False)
        self.assertTrue(out_of_stock)
        self.assertTrue(all(i.stock == 0 for i in out_of_stock))

    def test_sort_and_limit(self) -> None:
        cheapest = search_items(CATALOGUE, sort="price", limit=2)
        self.assertEqual([i.name for i in cheapest], ["Notebook", "LED strip"])
        dearest = search_items(CATALOGUE, sort="-price", limit=1)
        self.assertEqual(dearest[0].name, "Oak desk")

    def test_unknown_sort_is_rejected(self) -> None:
        with self.assertRaises(BadRequest):
            search_items(CATALOGUE, sort="colour")

    def test_get_item(self) -> None:
        item = get_item(CATALOGUE, 4)
        self.assertIsNotNone(item)
        assert item is not None
        self.assertEqual(item.name, "Oak desk")
        self.assertIsNone(get_item(CATALOGUE, 999))


class RoutingTests(unittest.TestCase):
    def call(self, target: str, method: str = "GET") -> tuple[int, dict[str, object]]:
        return handle(method, target, version="9.9.9", uptime_seconds=1.5)

    def test_health(self) -> None:
        status, body = self.call("/health")
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["version"], "9.9.9")

    def test_items_list_and_filters(self) -> None:
        status, body = self.call("/api/items?q=desk&limit=2")
        self.assertEqual(status, 200)
        self.assertEqual(body["count"], 2)
        items = body["items"]
        assert isinstance(items, list)
        self.assertTrue(all("desk" in i["name"].lower() for i in items))

    def test_trailing_slash_is_accepted(self) -> None:
        self.assertEqual(self.call("/api/items/")[0], 200)

    def test_single_item(self) -> None:
        self.assertEqual(
            self.call("/api/items/7"),
            (
                200,
                {"id": 7, "name": "Notebook", "category": "stationery", "price": 3.2, "stock": 250},
            ),
        )

    def test_errors(self) -> None:
        self.assertEqual(self.call("/api/items/999")[0], 404)
        self.assertEqual(self.call("/api/items/abc")[0], 400)
        self.assertEqual(self.call("/api/items?limit=0")[0], 400)
        self.assertEqual(self.call("/api/items?in_stock=perhaps")[0], 400)
        self.assertEqual(self.call("/nowhere")[0], 404)
        self.assertEqual(self.call("/health", method="POST")[0], 405)


if __name__ == "__main__":
    unittest.main()
