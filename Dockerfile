# One image for every Trainyard role: `trainyard serve`, `trainyard worker`, `trainyard migrate`.
# The default torch is the CPU build; for GPU workers build with
#   --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124
FROM python:3.11-slim

ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    ARTIFACT_ROOT=/data/artifacts

WORKDIR /app

# torch first, from the chosen index, so the generic install below does not pull another build.
RUN pip install --index-url "${TORCH_INDEX}" "${TORCH_SPEC}"

COPY pyproject.toml README.md alembic.ini ./
COPY api ./api
COPY worker ./worker
COPY trainer_core ./trainer_core
COPY trainyard ./trainyard
COPY catalog ./catalog
COPY server ./server
COPY migrations ./migrations
RUN pip install ".[server]" && useradd --create-home --uid 1000 trainyard \
    && mkdir -p /data/artifacts && chown -R trainyard /data

USER trainyard
EXPOSE 8000
ENTRYPOINT ["trainyard"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
