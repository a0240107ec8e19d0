# The newsflow image: the CLI, the flows and every stage worker (docker-compose.yml runs one
# container per stage from it).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY newsflow newsflow
COPY workers workers
COPY schemas schemas
COPY flows flows
COPY seeds seeds
RUN pip install --no-cache-dir . && useradd --system --uid 10001 newsflow
USER newsflow
ENTRYPOINT ["newsflow"]
