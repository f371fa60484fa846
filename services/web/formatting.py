"""Template filters and globals every console page may use.

Filters: `reltime` (a datetime → `3 min ago` / `in 2 h`), `bytes` (`1.2 MiB`), `number`
(`12,345`), `duration` (seconds → `2h 5m`), `percent` (a ratio → `42%`), `ms` (milliseconds
→ `0.4 ms`, `12 ms`).
Globals: `asset('app.js')` (the hashed URL of a built file), `csrf_field()` (the hidden
CSRF input of the signed-in session, for every form that posts), `usage_bar(value, limit,
unit, label)` (a value against its limit) and `when(moment)` (a relative time with the exact
UTC time on hover). The last two are Python, not macros: a list page calls them in every row,
and a Jinja macro call costs several times the HTML it returns.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from services.api.security import CSRF_FIELD
from services.web.assets import asset

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(value: float | int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"  # unreachable; keeps mypy sure of a return


def number(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def duration(seconds: float | int | None) -> str:
    """`45s`, `3m 20s`, `2h 5m`, `4d 3h`: the two largest units."""
    if seconds is None:
        return "—"
    total = round(float(seconds))
    if total < 60:
        return f"{total}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return " ".join(parts[:2])


def reltime(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if abs(seconds) < 5:
        return "just now"
    text = duration(abs(seconds))
    return f"{text} ago" if seconds > 0 else f"in {text}"


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.0f}%"


def milliseconds(value: float | int | None) -> str:
    """A round trip: one decimal below 10 ms (a LAN), whole milliseconds above."""
    if value is None:
        return "—"
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"


def usage_bar(
    value: float | int, limit: float | int | None, unit: str = "number", label: str = ""
) -> Markup:
    """`value` against `limit`; no limit (None, 0 or negative) shows the value alone. `unit`:
    "bytes" or "number". Warn from 75 %, danger from 90 %."""
    show = human_bytes if unit == "bytes" else number
    if not limit or limit <= 0:
        return Markup(f'<span class="usage-text">{escape(show(value))}</span>')  # noqa: S704
    ratio = min(value / limit, 1)
    level = "danger" if ratio >= 0.9 else ("warn" if ratio >= 0.75 else "ok")
    aria = f' aria-label="{escape(label)}"' if label else ""
    shown = percent(ratio)
    low, high, capped = (escape(n) for n in (limit * 0.75, limit * 0.9, min(value, limit)))
    # An f-string of escaped parts (escape is C code): Markup.format, pure Python, cost more
    # than the rest of a list row.
    return Markup(  # noqa: S704 (every interpolated part is escaped or ours)
        f'<span class="usage usage-{level}"><meter min="0" max="{escape(limit)}" '
        f'value="{capped}" low="{low}" high="{high}" optimum="0"{aria}>{shown}</meter> '
        f'<span class="usage-text">{escape(show(value))} / {escape(show(limit))} '
        f"({shown})</span></span>"
    )


def when(moment: datetime | None) -> Markup:
    """A time shown relative (`3 min ago`) with the exact UTC time on hover."""
    if not moment:
        return Markup('<span class="muted">never</span>')
    exact = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(  # noqa: S704 (every interpolated part is escaped)
        f'<time datetime="{escape(moment.isoformat())}" title="{escape(exact)}">'
        f"{escape(reltime(moment))}</time>"
    )


@pass_context
def csrf_field(context: Context) -> Markup:
    token = context.get("csrf_token")
    if not token:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(token))


def install(env: Environment) -> None:
    env.filters.update(
        reltime=reltime,
        bytes=human_bytes,
        number=number,
        duration=duration,
        percent=percent,
        ms=milliseconds,
    )
    env.globals.update(asset=asset, csrf_field=csrf_field, usage_bar=usage_bar, when=when)
