"""Unit tests of app.logic and app.web (no server needed)."""

import json
import unittest
from wsgiref.util import setup_testing_defaults

from app.logic import paginate, slugify
from app.web import application


class LogicTest(unittest.TestCase):
    def test_slugify(self):
        self.assertEqual(slugify("Hello, World!"), "hello-world")
        self.assertEqual(slugify("  "), "")

    def test_paginate(self):
        self.assertEqual(paginate(list(range(25)), 3), [20, 21, 22, 23, 24])
        self.assertEqual(paginate(list(range(25)), 4), [])
        self.assertRaises(ValueError, paginate, [], 0)


class WebTest(unittest.TestCase):
    def call(self, path, query=""):
        environ, statuses = {"PATH_INFO": path, "QUERY_STRING": query}, []
        setup_testing_defaults(environ)
        body = b"".join(application(environ, lambda status, _: statuses.append(status)))
        return statuses[0], json.loads(body)

    def test_slug(self):
        status, body = self.call("/slug", "title=Big+News")
        self.assertEqual((status, body["slug"]), ("200 OK", "big-news"))

    def test_unknown_path(self):
        self.assertEqual(self.call("/nope")[0], "404 Not Found")
