# Billing Centre production image: gunicorn (web), Celery worker and beat share it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint: Pango for text layout; fonts-nanum so Korean is not drawn as empty boxes;
# libharfbuzz-subset0 makes a one-page render ~7x faster. gettext compiles the translations.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      fonts-nanum libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 gettext \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The runtime dependencies of pyproject.toml, pinned by requirements.lock (the dev extra is left
# out). A layer of its own, rebuilt only when the pins change.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt -c requirements.lock \
 && rm /tmp/requirements.txt

COPY . .

# Static files are collected (and compressed, with a manifest) into the image and served by
# WhiteNoise; translations are compiled. Build-only values: nothing here connects anywhere.
RUN if [ -d locale ]; then python manage.py compilemessages --ignore=.venv; fi \
 && DJANGO_DEBUG=0 \
    DJANGO_SECRET_KEY=build-only-not-a-secret-build-only-not-a-secret-build-only \
    DJANGO_ALLOWED_HOSTS=build.invalid \
    REDIS_URL=redis://build.invalid:6379/0 \
    SITE_URL=https://build.invalid \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --no-input \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /app/var/media \
 && chown -R app:app /app/var

USER app
EXPOSE 8000

# Workers, timeouts, max_requests and the JSON access log: gunicorn.conf.py (from the environment).
CMD ["gunicorn", "billing_centre.wsgi:application", "-c", "gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
