"""A small Django site that tests (and the demo) record and replay.

Public pages with CSS/JS, a public list and detail, login through django.contrib.auth (CSRF), a
login-only list, a create form that redirects to the new note, an edit form, a JSON API, and
logout by POST. `python -m tests.sites.notes --port N --db FILE` serves it on 127.0.0.1.
"""
