# One image for the API, the workers, beat and migrations; the command picks the role.
FROM python:3.11-slim AS build
WORKDIR /app
COPY pyproject.toml alembic.ini ./
COPY alembic ./alembic
COPY api ./api
COPY worker ./worker
COPY common ./common
# Editable, so `musicgw db upgrade` finds alembic.ini and the migrations beside the code.
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -e .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 musicgw && mkdir -p /data && chown musicgw /data
COPY --from=build /venv /venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/venv/bin:$PATH DATA_DIR=/data PYTHONUNBUFFERED=1
USER musicgw
EXPOSE 8000
CMD ["musicgw", "serve", "--host", "0.0.0.0"]
