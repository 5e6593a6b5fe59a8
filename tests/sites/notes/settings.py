import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "notes-test-site-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
INSTALLED_APPS = [
    "django.contrib.admin",  # Django's own admin at /admin/: a real application nobody here wrote
    "django.contrib.messages",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "tests.sites.notes",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.sites.notes.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
                                           "django.contrib.messages.context_processors.messages"]},
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("NOTES_DB", str(BASE_DIR / "notes.db")),
        # IMMEDIATE: a write transaction (the admin wraps each save in one) waits for the lock
        # instead of failing with "database is locked" when two requests save at once.
        "OPTIONS": {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/mine/"
LOGOUT_REDIRECT_URL = "/"
USE_TZ = True
# The site is served over plain HTTP on loopback in tests; keep cookies usable there.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Fast logins under load in tests; --real-hashing keeps Django's default (PBKDF2, a million
# rounds: tens of milliseconds of CPU a login), as a real site does, for the demo's capacity search.
PASSWORD_HASHERS = (["django.contrib.auth.hashers.PBKDF2PasswordHasher"] if os.environ.get("NOTES_REAL_HASHING") == "1"
                    else ["django.contrib.auth.hashers.MD5PasswordHasher"])
# --anonymous-visitors: the home page sets no cookie on a visitor who has none (as on most real
# sites, the first pages of a visit carry no cookie). By default it sets the CSRF cookie.
NOTES_ANONYMOUS_VISITORS = os.environ.get("NOTES_ANONYMOUS_VISITORS") == "1"
# runserver's access log (one line a request, on stderr: start_notes_site writes it to
# notes-PORT.log), which tests compare with what a recording holds, and why a request was
# refused (a CSRF failure, a 4xx/5xx). Nothing else is logged.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": True,
    "formatters": {
        "access": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
        "why": {"format": "{levelname} {name}: {message}", "style": "{"},
    },
    "handlers": {
        "access": {"class": "logging.StreamHandler", "formatter": "access"},
        "why": {"class": "logging.StreamHandler", "formatter": "why"},
    },
    "loggers": {
        "django.server": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["why"], "level": "WARNING", "propagate": False},
        "django.security": {"handlers": ["why"], "level": "WARNING", "propagate": False},
    },
}
