"""WSGI entry point for any server: ``gunicorn qa.web.wsgi:app`` (settings from ``QA_*``
environment variables). ``qa serve`` does the same with gunicorn configured for you."""

from qa.settings import Settings
from qa.web import serving_app

app = serving_app(Settings.from_env())
