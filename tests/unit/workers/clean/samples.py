"""Pages, texts and helpers shared by the clean stage's tests."""

from __future__ import annotations

from schemas.articles import CleanArticle, RawArticle
from workers.clean.stage import CleanStage
from workers.stage import Emit, Outcome

PARAGRAPHS = [
    "The city council voted on Monday to approve a new pedestrian bridge over the river, "
    "ending a debate that has lasted almost a decade among residents and local businesses.",
    "The bridge will connect the old town with the northern district and is expected to open "
    "in 2027. Officials said the project would cost about 40 million euros, most of it funded "
    "by the regional government.",
    "Opponents argued that the money should have been spent on public transport instead, but "
    "the motion passed by twenty-three votes to eleven after a long evening session.",
]

PAGE = f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Council approves new bridge | The Daily Example</title>
<meta property="og:title" content="Council approves new bridge over the river">
<meta property="og:site_name" content="The Daily Example">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2025-03-10T08:30:00+00:00">
<script>var tracking = "do not extract me";</script>
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li></ul></nav></header>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies.</div>
<main><article>
<h1>Council approves new bridge over the river</h1>
<p class="byline">By Jane Doe</p>
<p>{PARAGRAPHS[0]}</p>
<p>{PARAGRAPHS[1]}</p>
<p>{PARAGRAPHS[2]}</p>
</article></main>
<aside><h3>Most read</h3><ul><li><a href="/a">Ten things to do this weekend</a></li>
<li><a href="/b">Weather warning issued</a></li></ul></aside>
<footer><p>© 2025 The Daily Example. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms</a></footer>
</body></html>"""

# Pages without an article: a JavaScript app shell, and a page where only a menu is found.
APP_SHELL = "<html><body><div id='app'></div><script>render()</script></body></html>"
MENU_ONLY = "<html><body><nav><a href='/'>Home</a></nav></body></html>"

URL = "https://www.dailyexample.example/news/2025/03/bridge?utm_source=rss#top"
TEXT = " ".join(PARAGRAPHS)

def emitted(outcome: Outcome) -> CleanArticle:
    assert isinstance(outcome, Emit), outcome
    article = outcome.article
    assert isinstance(article, CleanArticle)
    return article


def clean_one(stage: CleanStage, **fields: object) -> Outcome:
    [outcome] = stage.process([RawArticle.model_validate(fields)])
    return outcome
