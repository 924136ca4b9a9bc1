"""Unit tests of the web-app sample (run: python3 -m unittest discover -s tests -t .)."""
