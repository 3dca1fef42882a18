"""Benchmark: template rendering with the guarded sandbox, against plain Jinja2, and text tools.

    python plugins/transform/bench/bench_transform.py [--renders 300] [--repeat 3]

Measures, best of ``--repeat`` (templates compiled once, as in a worker process):

* ``Session`` template with a realistic session (page text, 3 000-word transcript, slides):
  renders per second in ``SafeEnvironment`` (guards on) and in Jinja2's own
  ``ImmutableSandboxedEnvironment`` (no guards); overhead = plain / guarded - 1;
* a loop-heavy template (10 000 iterations, a macro call and a filter each): the same;
* text tools on a 100 000-character text: ``detect_language``, ``summarize``,
  ``parse_front_matter`` (calls per second);
* ``html_to_text`` (seconds per page): 100 000 nested ``<div>`` then 100 000 stray end tags
  (the quadratic case of the old hand-written parser), 250 nested ``<div>`` then 1 000 000 stray
  end tags (the worst libxml2 allows), and a 1 MB talk page of ordinary markup;
* ``transform`` jobs through a real worker (SQLite store, process executor): jobs per second,
  first submit to last completion (``--jobs``).
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from worker_plugin_transform.api import (
    detect_language,
    html_to_text,
    parse_front_matter,
    render_template,
    summarize,
)
from worker_plugin_transform.guards import Limits
from worker_plugin_transform.sandbox import render
from worker_plugin_transform.templates import BUILTIN_DIR, environment_for
from worker_plugin_transform.tools import template_filters

SENTENCE = (
    "Cities publish their budgets as open data so that citizens can follow how "
    "public money is spent in every district. "
)
LOOP = (
    "{% macro row(i) %}| {{ i }} | {{ (i * 7) % 13 }} |{% endmacro %}"
    "{% for i in range(10000) %}{{ row(i) | trim }}\n{% endfor %}"
)


def session_vars() -> dict:
    return {
        "event": "FOSS 2024",
        "session": "Open budgets",
        "track": "Cities",
        "day": "2024-05-02",
        "starttime": "10:00",
        "endtime": "10:30",
        "speakers": ["Ada", "Grace"],
        "url": "https://x/t",
        "video_url": None,
        "attachments_url": None,
        "source_language": "en",
        "target_language": "de",
        "web_text": SENTENCE * 20,
        "video_transcript": SENTENCE * 200,
        "attachments_text": "Slide one\n\nSlide two",
        "attachments": ["assets/t/s.pdf"],
    }


def best(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Calls per second, best of ``repeat`` runs of ``n`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        times.append(time.perf_counter() - start)
    return n / min(times)


def plain_env() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters.update(template_filters())
    return env


def bench_templates(renders: int, repeat: int) -> None:
    guarded = environment_for(Limits(), (), ())
    plain = plain_env()
    session_src = (BUILTIN_DIR / "Session.md.j2").read_text()
    variables = session_vars()
    plain_session = plain.from_string(session_src)
    plain_loop = plain.from_string(LOOP)
    guarded.from_string(LOOP)  # warm: parse once outside the timing
    out = render(guarded, "Session", variables)
    assert out == plain_session.render(variables), "guarded and plain output differ"
    for name, g, p, n in (
        (
            "Session template",
            lambda: render(guarded, "Session", variables),
            lambda: plain_session.render(variables),
            renders,
        ),
        (
            "loop 10k iterations",
            lambda: render(guarded, LOOP, {}, inline=True),
            lambda: plain_loop.render(),
            max(renders // 30, 3),
        ),
    ):
        gs, ps = best(g, n, repeat), best(p, n, repeat)
        print(
            f"{name:22s} guarded {gs:9.1f}/s   plain sandbox {ps:9.1f}/s   "
            f"overhead {ps / gs - 1:+.0%}"
        )


def bench_tools(repeat: int) -> None:
    text = (SENTENCE * 800)[:100_000]
    md = "---\ntitle: x\ntags: [a, b]\n---\n" + text
    detect_language(text)  # load the model outside the timing
    for name, fn, n in (
        ("detect_language 100k", lambda: detect_language(text), 20),
        ("summarize 100k", lambda: summarize(text, 5), 10),
        ("front_matter 100k", lambda: parse_front_matter(md), 200),
    ):
        print(f"{name:22s} {best(fn, n, repeat):9.1f} calls/s")


def adversarial_page(depth: int, stray: int) -> str:
    """``depth`` nested ``<div>``, ``stray`` end tags that close nothing, then a paragraph."""
    return f"<html><body>{'<div>' * depth}{'</span>' * stray}<p>end</p></body></html>"


def bench_html(repeat: int) -> None:
    talk = (
        "<article><h2>Open budgets</h2><p>" + SENTENCE * 3 + "</p><ul><li>CSV</li>"
        "<li>JSON</li></ul><div class='speaker'><p>Ada works on <b>civic</b> tech.</p></div>"
        "</article>"
    )
    ordinary = f"<html><head><title>T</title></head><body><nav>Menu</nav><main>{talk * 2000}"
    ordinary += "</main><footer>Imprint</footer></body></html>"
    for name, page in (
        ("html 100k div+100k </span>", adversarial_page(100_000, 100_000)),
        ("html 250 div+1M </span>", adversarial_page(250, 1_000_000)),
        ("html 1 MB talk page", ordinary),
    ):
        seconds = 1 / best(functools.partial(html_to_text, page), 1, repeat)
        print(f"{name:22s} {seconds:9.3f} s per page ({len(page) / 1e6:.1f} MB)")


def bench_worker(jobs: int) -> None:
    import worker_plugin_transform
    from jobworker.testing import WorkerHarness

    with (
        tempfile.TemporaryDirectory() as tmp,
        WorkerHarness(Path(tmp), plugins=[worker_plugin_transform]) as h,
    ):
        start = time.perf_counter()
        for i in range(jobs):
            h.client.submit(
                "transform",
                {"template": "Session", "context": {**session_vars(), "session": f"Talk {i}"}},
            )
        h.run_burst()
        elapsed = time.perf_counter() - start
        done = h.client.list(status="completed", limit=jobs + 1)
        print(
            f"{'worker transform jobs':22s} {len(done)}/{jobs} completed, "
            f"{jobs / elapsed:9.1f} jobs/s ({elapsed:.2f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()
    render_template(template_content="warm", registered={})
    bench_templates(args.renders, args.repeat)
    bench_tools(args.repeat)
    bench_html(args.repeat)
    bench_worker(args.jobs)


if __name__ == "__main__":
    main()
