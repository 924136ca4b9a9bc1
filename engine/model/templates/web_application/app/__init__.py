"""The web app: logic.py holds the rules, web.py serves them."""
