"""Serve the notes site: a fresh database with users alice and bob and the admin's superuser
(ADMIN_USER / ADMIN_PASSWORD, for Django's own admin at /admin/), on 127.0.0.1:PORT.

--anonymous-visitors: the home page sets no cookie on visitors (by default it sets the CSRF
cookie on everyone, with ensure_csrf_cookie). --real-hashing: Django's default password hasher
instead of the fast one tests use."""

import argparse
import os
import sys

ADMIN_USER = "root"
ADMIN_PASSWORD = "root-pass-123"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file for the site's own data")
    parser.add_argument("--anonymous-visitors", action="store_true",
                        help="the home page sets no cookie on a visitor who has none (env NOTES_ANONYMOUS_VISITORS=1)")
    parser.add_argument("--real-hashing", action="store_true", help="Django's default password hashing (slow logins)")
    args = parser.parse_args()
    os.environ["NOTES_DB"] = args.db
    if args.real_hashing:
        os.environ["NOTES_REAL_HASHING"] = "1"
    if args.anonymous_visitors:
        os.environ["NOTES_ANONYMOUS_VISITORS"] = "1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.sites.notes.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth.models import User

    from tests.sites.notes.models import Note

    for name in ("alice", "bob"):
        if not User.objects.filter(username=name).exists():
            user = User.objects.create_user(name, password=f"{name}-pass-123")
            Note.objects.create(title=f"Welcome from {name}", body="A first public note.", owner=user)
    if not User.objects.filter(username=ADMIN_USER).exists():
        User.objects.create_superuser(ADMIN_USER, email=f"{ADMIN_USER}@example.com", password=ADMIN_PASSWORD)
    print(f"notes site on http://127.0.0.1:{args.port}/", flush=True)
    sys.argv = ["notes"]
    call_command("runserver", f"127.0.0.1:{args.port}", use_reloader=False, insecure_serving=True, verbosity=0)


if __name__ == "__main__":
    main()
