# syntax=docker/dockerfile:1
# The client image: `python -m client_trainer demo` against a vendor at VENDOR_URL.
# Build context: the repository root.
#
#   docker build -f docker/client.Dockerfile -t clip-distill/client:local .
#
# The client distils on CPU here, so torch is the CPU wheel (a fraction of the CUDA build's size);
# for a GPU client build with --build-arg TORCH_INDEX_URL=https://pypi.org/simple.
FROM python:3.11.14-slim-bookworm

# Where pip takes torch/torchvision from (the rest of the dependencies always come from PyPI).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    ARTIFACTS_DIR=/app/artifacts \
    HF_HOME=/app/artifacts/hf \
    TORCH_HOME=/app/artifacts/torch \
    XDG_CACHE_HOME=/app/artifacts/cache \
    MPLCONFIGDIR=/app/artifacts/matplotlib

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

# Layer 3: the client's own code only. The vendor's code is not in this image: everything the
# client knows about the teacher comes over HTTP.
COPY README.md ./
COPY shared ./shared
COPY client_trainer ./client_trainer
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info

COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/clip-distill-entrypoint

# runs/ (results) and artifacts/ (cached offline world, features) are volumes in compose; a
# fresh named volume copies this ownership.
RUN mkdir -p /app/artifacts /app/runs \
    && chown -R app:app /app/artifacts /app/runs

USER 10001:10001

# The client serves nothing; it runs its experiment and exits.
STOPSIGNAL SIGTERM

ENTRYPOINT ["clip-distill-entrypoint"]
CMD ["python", "-m", "client_trainer", "demo"]
