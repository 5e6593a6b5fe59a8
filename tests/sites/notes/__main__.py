"""Serve the notes site: a fresh database with users alice and bob, on 127.0.0.1:PORT."""

import argparse
import os
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file for the site's own data")
    args = parser.parse_args()
    os.environ["NOTES_DB"] = args.db
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
    print(f"notes site on http://127.0.0.1:{args.port}/", flush=True)
    sys.argv = ["notes"]
    call_command("runserver", f"127.0.0.1:{args.port}", use_reloader=False, insecure_serving=True, verbosity=0)


if __name__ == "__main__":
    main()
