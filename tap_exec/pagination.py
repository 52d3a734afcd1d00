"""Paginators for the Exec API's page-number lists."""

from __future__ import annotations

import typing as t

from singer_sdk.pagination import PageNumberPaginator

from tap_exec.decoding import json_body

if t.TYPE_CHECKING:
    import requests


class TotalPagesPaginator(PageNumberPaginator):
    """Page numbers from 1, stopping at `pagination.total_pages`: no request for a page past the last."""

    def __init__(self) -> None:
        super().__init__(start_value=1)
        self.total_pages: int | None = None

    def has_more(self, response: requests.Response) -> bool:
        """More pages exist while the page just read is below `total_pages`."""
        pagination = json_body(response)["pagination"]
        self.total_pages = pagination["total_pages"]
        return bool(pagination["page"] < pagination["total_pages"])
