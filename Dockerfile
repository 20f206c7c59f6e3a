# One image for the API, the workers and beat; the command picks the role.
FROM python:3.11-slim AS build
WORKDIR /app
COPY pyproject.toml ./
COPY api ./api
COPY worker ./worker
COPY common ./common
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 musicgw
COPY --from=build /venv /venv
WORKDIR /app
COPY alembic.ini ./
COPY alembic ./alembic
COPY api ./api
COPY worker ./worker
COPY common ./common
ENV PATH=/venv/bin:$PATH DATA_DIR=/data PYTHONUNBUFFERED=1
RUN mkdir -p /data && chown musicgw /data
USER musicgw
EXPOSE 8000
CMD ["musicgw", "serve", "--host", "0.0.0.0"]
