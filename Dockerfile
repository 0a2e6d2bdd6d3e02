# syntax=docker/dockerfile:1
# telnyx-emulator: a local Telnyx Call Control API for CI and development.
#
#   docker build -t telnyx-emulator .
#   docker run --rm -p 8787:8787 telnyx-emulator
#   docker run --rm -p 8787:8787 -v "$PWD/my-scenarios:/scenarios:ro" \
#       -e TELNYX_EMULATOR_TIME_SCALE=0.01 telnyx-emulator
#
# Every option is an environment variable (TELNYX_EMULATOR_<OPTION>, see docs/configuration.md).
# Your scenario files go in /scenarios (empty by default: the bundled scenarios still apply).
# Your telnyx-emulator.yaml (connections, numbers; docs/configuration.md) goes in /config, the
# working directory, where `serve` looks for it:
#   docker run --rm -p 8787:8787 -v "$PWD/telnyx-emulator.yaml:/config/telnyx-emulator.yaml:ro" \
#       telnyx-emulator
# tests/test_packaging.py runs this file's `python -m pip` steps in a fresh virtualenv, so keep
# them as single `python -m pip wheel` / `python -m pip install` commands.

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY emulator/ emulator/
COPY schemas/ schemas/
COPY scenarios/ scenarios/
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir /wheels/telnyx_emulator-*.whl
RUN useradd --system --no-log-init --uid 10001 --no-create-home --shell /usr/sbin/nologin emulator \
    && mkdir /scenarios /config
WORKDIR /config
USER 10001
# Inside the container only: listen on every interface so `-p 8787:8787` reaches the server.
ENV TELNYX_EMULATOR_HOST=0.0.0.0 \
    TELNYX_EMULATOR_PORT=8787 \
    TELNYX_EMULATOR_SCENARIOS=/scenarios
EXPOSE 8787
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["telnyx-emulator", "health"]
ENTRYPOINT ["telnyx-emulator"]
CMD ["serve"]
