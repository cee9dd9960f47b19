"""Load scenarios for kasse and the bare-stack baseline they are compared with.

``python -m bench`` starts real server processes (kasse, the test gateway and a bare ASGI
app answering canned responses), drives the storefront journeys with concurrent virtual
shoppers and prints a table and a JSON report. See ``bench/RESULTS.md``.
"""
