"""A WSGI front for app.logic: GET /slug?title=... answers JSON. Run: python3 -m app.web"""

import json
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

from app.logic import slugify


def application(environ, start_response):
    if environ.get("PATH_INFO") != "/slug":
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": "not found"}']
    title = parse_qs(environ.get("QUERY_STRING", "")).get("title", [""])[0]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"title": title, "slug": slugify(title)}).encode()]


if __name__ == "__main__":
    print("serving on http://127.0.0.1:8000/slug?title=Hello+World")
    make_server("127.0.0.1", 8000, application).serve_forever()
