"""The console's macros render what pages rely on: sortable headers and pagers as plain links
htmx enhances, usage bars, fields with their error beside them, typed-name confirmation."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader

from services.web import formatting
from services.web.app import TEMPLATES


def render(source: str, **context: Any) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    formatting.install(env)

    def url_with(**changes: Any) -> str:
        return "/here?" + "&".join(f"{k}={v}" for k, v in changes.items())

    page = '{% import "macros.html" as ui with context %}' + source
    defaults = {"url_with": url_with, "csrf_token": "tok", "has_page": lambda route: False}
    return env.from_string(page).render(**{**defaults, **context})


def test_a_sorted_column_links_to_the_opposite_order_and_says_which_it_is() -> None:
    html = render('{{ ui.sort_header("Bytes", "bytes", "bytes", "streams_table") }}')
    assert 'aria-sort="ascending"' in html
    assert 'href="/here?sort=-bytes"' in html and 'hx-target="#streams_table"' in html
    assert 'hx-push-url="true"' in html
    other = render('{{ ui.sort_header("Name", "name", "-bytes", "streams_table") }}')
    assert "aria-sort" not in other and 'href="/here?sort=name"' in other


def test_the_pager_links_previous_and_next_pages_only_where_they_exist() -> None:
    html = render('{{ ui.pager(1, 3, "streams_table") }}')
    assert "Page 1 of 3" in html and 'href="/here?page=2"' in html and 'rel="prev"' not in html
    assert render('{{ ui.pager(1, 1, "t") }}').strip() == ""


def test_a_usage_bar_shows_the_share_of_the_limit_or_the_value_alone() -> None:
    html = render('{{ usage_bar(950, 1000, "number", "messages") }}')
    assert "950 / 1,000 (95%)" in html and "usage-danger" in html
    assert "<meter" not in render('{{ usage_bar(2048, 0, "bytes") }}')
    assert "2.0 KiB" in render('{{ usage_bar(2048, -1, "bytes") }}')
    # Everything in it is escaped: a label is the user's stream name.
    assert 'aria-label="&lt;b&gt;"' in render('{{ usage_bar(1, 2, "number", "<b>") }}')


def test_a_time_is_relative_with_the_exact_utc_time_on_hover() -> None:
    from datetime import UTC, datetime, timedelta

    moment = datetime.now(UTC) - timedelta(minutes=3)
    html = render("{{ when(moment) }}", moment=moment)
    assert f'datetime="{moment.isoformat()}"' in html and ">3m ago</time>" in html
    assert moment.strftime("%Y-%m-%d %H:%M:%S UTC") in html
    assert render("{{ when(None) }}") == '<span class="muted">never</span>'


def test_a_field_keeps_the_input_and_shows_its_error_beside_it() -> None:
    html = render(
        '{{ ui.field("name", "Name", "ORDERS", errors) }}',
        errors={"name": "stream name already in use"},
    )
    assert 'value="ORDERS"' in html and 'aria-invalid="true"' in html
    assert 'aria-describedby="f-name-error"' in html
    assert '<p class="field-error" id="f-name-error">stream name already in use</p>' in html
    assert 'class="error" role="alert">' in render(
        "{{ ui.form_error(errors) }}", errors={"__all__": "no"}
    )


def test_deleting_asks_for_the_name_and_carries_the_csrf_token() -> None:
    html = render('{{ ui.confirm_delete("del", "/x/delete", "ORDERS", "the stream") }}')
    assert 'name="csrf_token" value="tok"' in html
    assert 'data-confirm-name="ORDERS"' in html and "Type <strong>ORDERS</strong>" in html


def test_a_page_not_built_yet_is_named_but_not_linked() -> None:
    source = '{{ ui.page_link("/orgs/{org}/clusters/{cluster}", "/orgs/a/clusters/m", "m") }}'
    assert render(source).strip() == "m"
    linked = render(source, has_page=lambda route: True)
    assert linked.strip() == '<a href="/orgs/a/clusters/m">m</a>'
