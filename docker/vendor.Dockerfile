# syntax=docker/dockerfile:1
# The vendor image: `python -m vendor_service serve` (and `train-vlm`, the one-shot that trains
# the offline world's CLIP into the model-cache volume). Build context: the repository root.
#
#   docker build -f docker/vendor.Dockerfile -t clip-distill/vendor:local .
#
# torch comes from PyPI by default, whose Linux x86_64 wheel is the CUDA build (it carries its
# own CUDA runtime, so a slim base is enough; the host needs only the NVIDIA driver and the
# container toolkit). CPU-only hosts may build with the CPU wheel instead, a much smaller image:
#   --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
FROM python:3.11.14-slim-bookworm

# Where pip takes torch/torchvision from (the rest of the dependencies always come from PyPI).
ARG TORCH_INDEX_URL=https://pypi.org/simple

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    ARTIFACTS_DIR=/app/artifacts \
    HF_HOME=/app/artifacts/hf \
    TORCH_HOME=/app/artifacts/torch \
    XDG_CACHE_HOME=/app/artifacts/cache

# The unprivileged user every process of the image runs as (fixed ids: volumes keep ownership).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home app

WORKDIR /app

# Layer 1, the big one: torch pinned exactly, as in pyproject.toml (changes almost never).
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.14.1 torchvision==0.29.1

# Layer 2: the project's runtime dependencies, read from pyproject.toml (no dev extras), so
# editing source code does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps))" \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Layer 3: the vendor's own code only (the client's code is not in the vendor image).
COPY README.md ./
COPY shared ./shared
COPY vendor_service ./vendor_service
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info

COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/clip-distill-entrypoint
COPY --chmod=0755 docker/probe.py /usr/local/bin/clip-distill-probe

# The model-cache volume mounts over /app/artifacts; a fresh named volume copies this
# directory's ownership, so the unprivileged user can write its checkpoints there.
RUN mkdir -p /app/artifacts /app/runs /run/clip-distill \
    && chown -R app:app /app/artifacts /app/runs /run/clip-distill

USER 10001:10001

EXPOSE 8000
# uvicorn finishes in-flight requests on SIGTERM, then exits.
STOPSIGNAL SIGTERM
# 200 only once the model is loaded and warm; the start period covers the model load.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=6 \
    CMD ["clip-distill-probe", "http://127.0.0.1:8000/readyz"]

ENTRYPOINT ["clip-distill-entrypoint"]
CMD ["python", "-m", "vendor_service", "serve", "--host", "0.0.0.0", "--port", "8000"]
