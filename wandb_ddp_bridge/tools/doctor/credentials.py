"""Is the backend URL a URL, and does the backend accept the API key? (A key of the right length can still be
wrong: only the backend can say, so the key is sent to it once, as ``wandb`` itself would send it.)"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from .findings import Finding

__all__ = ["base_url_finding", "key_check"]

#: The smallest GraphQL question that needs a valid key: who am I?
_WHO_AM_I = json.dumps({"query": "query Viewer { viewer { id } }"}).encode()


def base_url_finding(base_url: str) -> Finding | None:
    """A ``fail`` finding when ``base_url`` is not an ``http(s)://host[:port]`` URL; ``None`` when it is."""
    parsed = urllib.parse.urlsplit(base_url)
    try:
        parsed.port  # noqa: B018  # raises ValueError for a port that is not a number or out of range
    except ValueError:
        parsed = parsed._replace(netloc="")
    if parsed.scheme in ("http", "https") and parsed.hostname:
        return None
    return Finding(
        "base url",
        "fail",
        f"WANDB_BASE_URL={base_url!r} is not a URL",
        "set it to http(s)://host[:port] (W&B cloud: https://api.wandb.ai), or unset it",
    )


def key_check(base_url: str, api_key: str, timeout: float) -> Finding:
    """Ask the backend who the key belongs to: refused (HTTP 401/403, or no user) is a ``fail``."""
    token = base64.b64encode(f"api:{api_key}".encode()).decode()
    request = urllib.request.Request(
        base_url.rstrip("/") + "/graphql",
        data=_WHO_AM_I,
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return _refused(base_url, f"HTTP {exc.code}")
        return Finding("api key check", "warn", f"{base_url} answered HTTP {exc.code}: the key was not checked")
    except (OSError, ValueError) as exc:
        return Finding("api key check", "warn", f"not checked: {base_url} did not answer ({exc})")
    viewer = (answer.get("data") or {}).get("viewer") if isinstance(answer, dict) else None
    if not viewer:
        return _refused(base_url, "no user for this key")
    return Finding("api key check", "ok", f"{base_url} accepts the key")


def _refused(base_url: str, why: str) -> Finding:
    return Finding(
        "api key check",
        "fail",
        f"{base_url} refused the API key ({why})",
        "the key is wrong, revoked, or for another server: get yours at https://wandb.ai/authorize (or your "
        "W&B Server's /authorize) and `wandb login --relogin`, or fix WANDB_API_KEY",
    )
