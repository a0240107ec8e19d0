"""Stories, copies of them and helpers shared by the dedup stage's tests."""

from __future__ import annotations

from newsflow.config import load_settings
from schemas.articles import CleanArticle, DedupedArticle, article_id, canonical_url, source_of
from workers.dedup import build
from workers.dedup.stage import DedupStage
from workers.stage import Emit, StageContext

BRIDGE = """\
The Harbour Bridge will close to all traffic for nine days from Monday while engineers replace
the worn expansion joints on its northern approach, the city transport department said on
Thursday.

Officials said the joints, installed in 1987, had reached the end of their working life and
that inspectors had found cracks in two of the steel plates during a routine survey in March.
Buses will be diverted through the tunnel and the ferry service will run every ten minutes
instead of every twenty during the morning and evening peaks.

Local businesses on the waterfront warned that the closure would cost them trade during the
spring festival, when visitor numbers usually double. The chamber of commerce asked the
council to delay the work until the autumn, but the department said the repairs could not wait.

"We understand the disruption this causes, but safety comes first," said the department's
chief engineer, Maria Lindqvist. Cyclists and pedestrians will be able to use the eastern
walkway for most of the closure, except for two nights when the cranes are in place.

The work is expected to cost 14 million and is funded by the regional infrastructure budget.
"""

# Another story on the same topic: same bridge, same closure, written from scratch.
BRIDGE_OTHER = """\
Commuters faced long queues at the ferry terminals on Monday morning, the first day of the
Harbour Bridge shutdown, as thousands of drivers looked for other ways into the city centre.

Some passengers said they had waited more than forty minutes for a boat, despite the extra
sailings promised by the transport department. The tunnel was jammed from seven o'clock, and
several bus routes ran up to half an hour late according to the operator's own figures.

Shop owners near the old market said their tills had been quiet. One cafe owner, who asked
not to be named, said takings had fallen by a third compared with an ordinary Monday in April.

The department asked people to travel outside the rush hour where they could and to check the
live timetable before setting off. It said the repair crews were on schedule and that the
bridge should reopen as planned next Wednesday.
"""

RATES = """\
The central bank left its main interest rate unchanged at 3.5 percent on Wednesday, saying
inflation was falling more slowly than it had expected at the start of the year.

The governor told reporters that the labour market remained tight and that wage growth was
still running above the level consistent with the two percent target. Markets had priced in
a small chance of a cut, and the currency rose slightly after the announcement.

Economists said the decision left the door open to a reduction in the summer if price growth
in services eased. Two of the seven members of the rate committee voted for a quarter point
cut, the minutes showed, up from one member at the previous meeting.

Retail groups criticised the decision, saying households were still struggling with high
borrowing costs, while savers' associations welcomed it. The bank will publish its next
forecasts in June together with an updated assessment of the housing market.
"""

LIBRARY = """\
The new public library in the eastern district opened its doors on Saturday after six years
of planning and a two year building project that ran several months over schedule.

The four storey building holds more than 200,000 books, a music studio that members can book
by the hour, and a rooftop reading garden planted with native grasses. Hundreds of families
queued in the rain before the ribbon was cut by the youngest member of the reading club.

The architect said the design was meant to feel like a covered square rather than a quiet
hall, with a cafe and exhibition space on the ground floor. The library will stay open until
ten in the evening on weekdays, later than any other public building in the district.
"""


def make(url: str, body: str, title: str | None = "A headline") -> CleanArticle:
    return CleanArticle(
        id=article_id(url),
        url=url,
        canonical_url=canonical_url(url),
        source=source_of(url),
        title=title,
        body=body,
        word_count=len(body.split()),
        versions={"clean": "1"},
    )


def edited(body: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in body, old
        body = body.replace(old, new, 1)
    return body


def trimmed(body: str) -> str:
    """Wire copy cut at the end: the last paragraph dropped."""
    return "\n\n".join(body.strip().split("\n\n")[:-1])


# A re-headlined copy: same body, one word changed and a credit line added.
BRIDGE_NEAR = edited(
    BRIDGE,
    ("routine survey in March", "routine survey in April"),
    ("regional infrastructure budget.", "regional infrastructure budget. (Reporting by Ana Ruiz)"),
)


def new_stage() -> DedupStage:
    return build(load_settings(dedup_threshold=0.8), StageContext(offline=True))


def run(stage: DedupStage, *articles: CleanArticle) -> list[DedupedArticle]:
    out = []
    for outcome in stage.process(list(articles)):
        assert isinstance(outcome, Emit), outcome
        assert isinstance(outcome.article, DedupedArticle)
        out.append(outcome.article)
    return out


def decision(a: DedupedArticle) -> tuple[object, ...]:
    return (a.cluster_id, a.is_duplicate, a.duplicate_of, a.similarity, a.duplicate_kind)
