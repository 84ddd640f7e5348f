# The rubricate API (CPU only).  The LLM runs in its own container: see compose.yaml.
#   docker build -t rubricate .
#   docker run -p 8000:8000 -e RUBRICATE_LLM_URL=http://vllm:8000 rubricate
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    MALLOC_ARENA_MAX=2

RUN useradd --create-home --uid 10001 rubricate
WORKDIR /srv/rubricate

# torch first, from the CPU index, so sentence-transformers does not pull the CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md* ./
COPY app ./app
COPY graders ./graders
COPY rubrics ./rubrics
COPY models ./models
RUN pip install . && python -c "import app, graders, rubrics, models"

USER rubricate
ENV RUBRICATE_HOST=0.0.0.0 \
    RUBRICATE_PORT=8000 \
    RUBRICATE_CACHE_DIR=/home/rubricate/.cache/rubricate \
    RUBRICATE_LLM_URL=http://vllm:8000
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["rubricate", "serve", "--host", "0.0.0.0", "--port", "8000"]
