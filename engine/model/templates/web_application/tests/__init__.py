"""Run with: python3 -m unittest discover -s tests -t ."""
