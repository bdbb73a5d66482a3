"""The site for people: the landing page and the map (home), the browsable list and a page per record (browse),
the annotated source (source, article), the bulk downloads (downloads), and what catalogues and search engines read
(discovery). render holds what every page shares."""
from . import browse, discovery, downloads, home, render, source

# pages: / and /downloads/ (problem+json errors); site: the HTML pages (HTML errors); discovery: catalogue files.
BLUEPRINTS = (render.pages, render.site, discovery.bp)

__all__ = ["BLUEPRINTS", "browse", "discovery", "downloads", "home", "render", "source"]
