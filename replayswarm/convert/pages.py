"""Group a session into page steps and measure the think time before each. Pure.

A page step is a main request (a navigation, a form post, or an API call the page made) and the
sub-resources the browser fetched for it. Browsers say which is which in Sec-Fetch-Dest; for
other clients the content type and the file extension decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .recorded import Recorded, same_url

_SUBRESOURCE_DESTS = {"style", "script", "image", "font", "audio", "video", "track", "manifest", "object", "embed", "paintworklet", "sharedworker", "worker", "xslt"}
_ASSET_TYPES = ("text/css", "text/javascript", "application/javascript", "application/x-javascript", "image/", "font/", "audio/", "video/", "application/font", "application/wasm")
_ASSET_EXTENSIONS = (".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp", ".avif", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".wasm")


@dataclass
class Page:
    main: Recorded
    resources: list[Recorded] = field(default_factory=list)
    think: float = 0.0  # seconds between the end of the previous page step and this one

    @property
    def end(self) -> float:
        return max([self.main.ended, *(r.ended for r in self.resources)])


def is_subresource(flow: Recorded) -> bool:
    dest = (flow.header("sec-fetch-dest") or "").lower()
    if dest:
        return dest in _SUBRESOURCE_DESTS
    if flow.method != "GET":
        return False
    if flow.media_type.startswith(_ASSET_TYPES):
        return True
    return flow.path.lower().endswith(_ASSET_EXTENSIONS)


def page_steps(session: Sequence[Recorded], assets: bool = True) -> list[Page]:
    pages: list[Page] = []
    orphans: list[Recorded] = []
    for flow in session:
        if not is_subresource(flow):
            pages.append(Page(main=flow))
            if orphans:  # sub-resources seen before any page belong to the first one
                pages[0].resources.extend(orphans)
                orphans = []
            continue
        if not assets:
            continue
        owner = _owner(pages, flow)
        if owner is None:
            orphans.append(flow)
        else:
            owner.resources.append(flow)
    for previous, page in zip(pages, pages[1:]):
        page.think = max(0.0, page.main.started - _end_before(previous, page.main.started))
    return pages


def _owner(pages: list[Page], resource: Recorded) -> Page | None:
    referer = resource.header("referer")
    if referer:
        for page in reversed(pages):
            if same_url(page.main.url, referer):
                return page
    return pages[-1] if pages else None


def _end_before(page: Page, start: float) -> float:
    """When the previous step finished: its main request and what it fetched before the next began."""
    return max([page.main.ended] + [r.ended for r in page.resources if r.started < start])
