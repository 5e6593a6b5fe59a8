"""The record stage: the mitmproxy addon, the single batched writer, HAR and dump importers.

Only `addon`, `proxy` and `dump` import mitmproxy; the rest is plain Python.
"""
