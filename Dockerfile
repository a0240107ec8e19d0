# The newsflow image: the CLI, the flows and every stage worker (docker-compose.yml runs one
# container per stage from it).
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
COPY newsflow newsflow
COPY workers workers
COPY schemas schemas
COPY flows flows
COPY seeds seeds
# Dependencies only from the lock, each checked against its SHA-256; then the project alone.
RUN pip install --no-cache-dir --require-hashes -r requirements.lock \
    && pip install --no-cache-dir --no-deps . && useradd --system --uid 10001 newsflow
USER newsflow
ENTRYPOINT ["newsflow"]
