"""A requests transport adapter that hands requests to the emulator's WSGI app in process."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

Handler = Callable[[Request], tuple[Response, float]]


class InProcessAdapter(BaseAdapter):
    def __init__(self, handle: Handler) -> None:
        super().__init__()
        self._handle = handle

    def send(  # noqa: PLR0917 - the signature requests calls adapters with
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = urlsplit(str(request.url))
        body = request.body.encode() if isinstance(request.body, str) else request.body
        environ = EnvironBuilder(
            path=url.path,
            base_url=f"{url.scheme}://{url.netloc}",
            query_string=url.query,
            method=str(request.method),
            headers=list(request.headers.items()),
            data=body if isinstance(body, bytes) else None,
        ).get_environ()
        answer, delay = self._handle(Request(environ))
        self._wait(request, delay, timeout)
        return self._to_requests(request, answer)

    def close(self) -> None:
        """Nothing to release: no connections are ever opened."""

    @staticmethod
    def _wait(request: requests.PreparedRequest, delay: float, timeout: Any) -> None:
        """A slow answer takes its time, or times out the way requests would over a socket."""
        read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
        if read_timeout is not None and delay > read_timeout:
            time.sleep(read_timeout)
            raise requests.exceptions.ReadTimeout(
                f"Read timed out. (read timeout={read_timeout})", request=request
            )
        time.sleep(delay)

    def _to_requests(self, request: requests.PreparedRequest, answer: Response) -> requests.Response:
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = HTTP_STATUS_CODES.get(answer.status_code, "")
        response.headers = CaseInsensitiveDict(dict(answer.headers.items()))
        content = answer.get_data()
        response._content = content
        response.raw = io.BytesIO(content)
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = str(request.url)
        response.request = request
        return response
