"""A minimal JSON-RPC 2.0 client for hearsayd (HTTP POST /, Basic auth), standard library only.

One kept-alive HTTP connection per client; a lost connection is reopened once per call.
Credentials: user/password, or the cookie file <datadir>/.cookie ("__cookie__:HEX").
"""

from __future__ import annotations

import base64
import http.client
import json
import os


class RpcError(Exception):
    """The node answered with a JSON-RPC error, or did not answer."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


def read_cookie(datadir: str) -> tuple[str, str]:
    path = os.path.join(datadir, ".cookie")
    with open(path, encoding="utf-8") as f:
        text = f.read().strip()
    user, _, password = text.partition(":")
    if not password:
        raise RpcError(f"{path}: not a cookie (expected USER:PASSWORD)")
    return user, password


class RpcClient:
    def __init__(self, host: str, port: int, user: str, password: str, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._auth = f"Basic {token}"
        self._conn: http.client.HTTPConnection | None = None
        self._next_id = 1

    @staticmethod
    def from_datadir(host: str, port: int, datadir: str, timeout: float = 30.0) -> "RpcClient":
        user, password = read_cookie(datadir)
        return RpcClient(host, port, user, password, timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _post(self, body: bytes) -> tuple[int, bytes]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self._conn.request("POST", "/", body, {
            "Authorization": self._auth, "Content-Type": "application/json"})
        resp = self._conn.getresponse()
        return resp.status, resp.read()

    def call(self, method: str, params: list | None = None):
        req = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params or []}
        self._next_id += 1
        body = json.dumps(req).encode()
        for attempt in range(2):
            try:
                status, data = self._post(body)
                break
            except (OSError, http.client.HTTPException) as e:
                self.close()
                if attempt == 1:
                    raise RpcError(f"{self.host}:{self.port}: no answer to {method}: {e}") from e
        if status == 401:
            raise RpcError(f"{self.host}:{self.port}: credentials refused (401)")
        try:
            obj = json.loads(data)
        except ValueError as e:
            raise RpcError(f"{self.host}:{self.port}: {method}: HTTP {status}, not JSON") from e
        if obj.get("error"):
            err = obj["error"]
            raise RpcError(f"{method}: {err.get('message', err)}", err.get("code"))
        return obj.get("result")

    def get(self, path: str) -> str:
        """GET `path` (e.g. /metrics) and return the body text."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self._conn.request("GET", path, headers={"Authorization": self._auth})
            resp = self._conn.getresponse()
            return resp.read().decode()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise RpcError(f"{self.host}:{self.port}: GET {path}: {e}") from e
