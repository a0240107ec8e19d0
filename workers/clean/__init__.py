"""The clean stage: raw articles (html or text) in, clean articles out (docs/stages/clean.md).

``stage`` decides per article; ``extract`` gets a page's main text in a child process,
``text`` normalises, ``rules`` drops boilerplate lines, ``not_text`` spots binary noise.
"""

from workers.clean.stage import build

__all__ = ["build"]
