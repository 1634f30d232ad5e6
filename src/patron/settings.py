"""Django settings for Patron.

Everything a deployment changes comes from the environment: ``DATABASE_URL`` picks the database
(``sqlite:///path`` or ``postgres://...``); without it Patron keeps a SQLite file in the user's data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import platformdirs

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("PATRON_DATA_DIR") or platformdirs.user_data_dir("patron"))


def default_database_url() -> str:
    """Return the SQLite URL used when ``DATABASE_URL`` is not set."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DATA_DIR / 'patron.sqlite3'}"


SECRET_KEY = os.environ.get("PATRON_SECRET_KEY", "patron-insecure-development-key-change-me-in-production")
DEBUG = os.environ.get("PATRON_DEBUG", "0") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("PATRON_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("PATRON_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "simple_history",
    "django_tasks",
    "django_tasks_db",
    "patron.core",
    "patron.customers",
    "patron.engagement",
    "patron.pipeline",
    "patron.feedback",
    "patron.dataio",
    "patron.value",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "patron.core.middleware.PatronErrorMiddleware",
]

ROOT_URLCONF = "patron.urls"
WSGI_APPLICATION = "patron.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    }
]

DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or default_database_url())}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while an import or the task worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        "transaction_mode": "IMMEDIATE",
    }
else:
    # Reusing connections doubled API throughput under 20 concurrent clients (bench/api_latency.py).
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("PATRON_CONN_MAX_AGE", "60"))
    # Off by default, as in Django: the check is a SELECT 1 round trip before every request's first query. Without
    # it, a connection the database dropped (a restart) fails one request and is then replaced.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = os.environ.get("PATRON_CONN_HEALTH_CHECKS", "0") == "1"
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("pl", "Polski"),
    ("bg", "Български"),
    ("ru", "Русский"),
    ("zh-hans", "简体中文"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Completes Django's locale formats where they fall back to US English (Bulgarian date-times and inputs).
FORMAT_MODULE_PATH = ["patron.formats"]
TIME_ZONE = os.environ.get("PATRON_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("PATRON_STATIC_ROOT") or DATA_DIR / "static")
MEDIA_ROOT = DATA_DIR / "media"
# The built-in server serves static files when DEBUG is off too, so `patron demo` works with no web server.
PATRON_SERVE_STATIC = os.environ.get("PATRON_SERVE_STATIC", "1") == "1"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

PATRON_SPARK_MASTER = os.environ.get("PATRON_SPARK_MASTER", "")
PATRON_PAGE_SIZE = 50
# How long a server process trusts what it learnt about an API token and about a user's teams (0: not at all). A
# change made through Patron applies at once in the process that made it, and in every other within this bound.
PATRON_AUTH_CACHE_SECONDS = float(os.environ.get("PATRON_AUTH_CACHE_SECONDS", "5"))
PATRON_MAX_PAGE_SIZE = 500

NINJA_PAGINATION_MAX_LIMIT = PATRON_MAX_PAGE_SIZE
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PATRON_LOG_LEVEL", "WARNING")},
}
