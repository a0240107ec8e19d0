"""Load the saved objects under ``kibana/`` into Kibana, once it is up (docker-compose's
one-shot ``kibana-setup`` service):

    python -m newsflow.kibana --kibana-url http://kibana:5601 kibana/

Kibana's saved-objects import API takes one NDJSON file as ``multipart/form-data`` (field
``file``) and needs the ``kbn-xsrf`` header; ``overwrite=true`` makes a re-run replace the
objects instead of failing on their ids. The request is built by ``import_request`` so tests
can inspect it without a Kibana. Where Elasticsearch security is on, Kibana wants a login: the
user and password come from the settings (``NEWSFLOW_ES_USERNAME``, the ``newsflow_es_password``
secret file) and go as HTTP basic auth; without them nothing is sent.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "kibana"


def bundle(directory: Path) -> bytes:
    """Every ``*.ndjson`` in ``directory``, in name order, as one NDJSON document."""
    files = sorted(directory.glob("*.ndjson"))
    if not files:
        raise FileNotFoundError(f"no *.ndjson saved objects in {directory}")
    lines = [line for f in files for line in f.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    for n, line in enumerate(lines, start=1):
        try:
            json.loads(line)  # fail here, saying where, rather than in Kibana
        except ValueError as exc:
            raise ValueError(f"saved object {n} in {directory} is not JSON: {exc}") from exc
    return ("\n".join(lines) + "\n").encode("utf-8")


def _headers(auth: tuple[str, str] | None) -> dict[str, str]:
    if not auth:
        return {}
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def import_request(kibana_url: str, directory: Path = DEFAULT_DIR, *, overwrite: bool = True,
                   space: str | None = None,
                   auth: tuple[str, str] | None = None) -> httpx.Request:
    """The POST /api/saved_objects/_import request for ``directory``'s objects (not sent)."""
    prefix = f"/s/{space}" if space else ""
    return httpx.Request(
        "POST",
        f"{kibana_url.rstrip('/')}{prefix}/api/saved_objects/_import",
        params={"overwrite": "true" if overwrite else "false"},
        headers={"kbn-xsrf": "newsflow", **_headers(auth)},
        files={"file": ("newsflow.ndjson", bundle(directory), "application/ndjson")},
    )


def wait_available(client: httpx.Client, kibana_url: str, timeout: float,
                   auth: tuple[str, str] | None = None) -> None:
    """Wait until Kibana's status API says it is available (compose also waits for health)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = client.get(f"{kibana_url.rstrip('/')}/api/status", headers=_headers(auth))
            level = response.json().get("status", {}).get("overall", {}).get("level")
            if response.status_code == 200 and level == "available":
                return
            last = f"HTTP {response.status_code}, status {level}"
        except (httpx.HTTPError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(3)
    raise TimeoutError(f"Kibana at {kibana_url} not available after {timeout:.0f}s ({last})")


def load(kibana_url: str, directory: Path = DEFAULT_DIR, *, wait: float = 300,
         overwrite: bool = True, auth: tuple[str, str] | None = None) -> dict[str, Any]:
    """Import the objects; return Kibana's answer. Raises if any object failed."""
    with httpx.Client(timeout=60) as client:
        wait_available(client, kibana_url, wait, auth)
        response = client.send(import_request(kibana_url, directory, overwrite=overwrite,
                                              auth=auth))
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    if not result.get("success"):
        raise RuntimeError(f"Kibana import failed: {json.dumps(result.get('errors'))[:4000]}")
    return result


app = typer.Typer(add_completion=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]})


@app.command()
def main(
    directory: Annotated[Path, typer.Argument(help="the folder of *.ndjson saved objects")]
    = DEFAULT_DIR,
    kibana_url: Annotated[str, typer.Option(envvar="KIBANA_URL", help="Kibana's URL")]
    = "http://127.0.0.1:5601",
    wait: Annotated[float, typer.Option(help="seconds to wait for Kibana")] = 300,
) -> None:
    """Import the saved objects (data view, saved search, dashboard) into Kibana, replacing
    those with the same ids, once Kibana is available. Logs in with NEWSFLOW_ES_USERNAME and
    its password when they are set."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from newsflow.config import load_settings

    settings = load_settings()
    auth = None
    if settings.es_username and settings.es_password:
        auth = (settings.es_username, settings.es_password.get_secret_value())
    try:
        result = load(kibana_url, directory, wait=wait, auth=auth)
    except (OSError, ValueError, RuntimeError, httpx.HTTPError) as exc:
        log.error("%s", exc)
        raise typer.Exit(1) from None
    log.info("imported %s saved objects into %s", result.get("successCount"), kibana_url)


if __name__ == "__main__":
    app(prog_name="python -m newsflow.kibana")
