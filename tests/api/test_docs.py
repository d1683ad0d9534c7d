"""/docs works without internet: the page and everything it loads come from the server itself."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx

from sttdesk.api import ApiServer
from sttdesk.app import Core

#: What a page loads: scripts, style sheets, icons, and the schema Swagger UI fetches.
_LINKS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def test_docs_page_and_all_it_loads_are_served_locally_over_real_http(idle_core: Core) -> None:
    with ApiServer(idle_core, port=0) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        links = [a or b for a, b in _LINKS.findall(page.text)]
        assert links, page.text
        loaded: dict[str, httpx.Response] = {}
        for link in links:
            url = urljoin(f"{server.url}/docs", link)
            # nothing from a CDN or any other host: offices may have no internet at all
            assert urlsplit(url).netloc == urlsplit(server.url).netloc, link
            loaded[urlsplit(url).path] = client.get(url)
        assert "cdn." not in page.text and "jsdelivr" not in page.text
    assert {path: response.status_code for path, response in loaded.items()} == {
        "/docs/assets/swagger-ui-bundle.js": 200,
        "/docs/assets/swagger-ui.css": 200,
        "/docs/assets/favicon.png": 200,
        "/openapi.json": 200,
    }
    script = loaded["/docs/assets/swagger-ui-bundle.js"]
    assert "javascript" in script.headers["content-type"] and "SwaggerUIBundle" in script.text
    assert loaded["/docs/assets/swagger-ui.css"].headers["content-type"].startswith("text/css")
    assert loaded["/docs/assets/favicon.png"].content.startswith(b"\x89PNG")
    schema = loaded["/openapi.json"].json()
    # Swagger UI 5 reads OpenAPI 3.1, which FastAPI writes
    assert schema["openapi"].startswith("3.1") and "/api/v1/jobs" in schema["paths"]
    assert re.search(r'SwaggerUIBundle\(\{', page.text)
