"""The command line starts quickly because it imports only what the command needs: these tests
check what ``jobworker --version`` and ``jobworker submit`` import (the times themselves are in
docs/benchmarks.md, measured with bench/bench_cli_startup.py)."""

from __future__ import annotations

import json

from cli_modules import run_cli, with_parents

HEAVY = ("httpx", "rich", "structlog", "pymongo", "asyncio", "jobworker.worker")
# Never needed to submit a job (the server and its libraries, HTTP, webhook delivery's network
# code, API keys, a plugin requirement's full version parser).
NOT_FOR_SUBMIT = (
    *HEAVY,
    "jobworker.server",
    "litestar",
    "uvicorn",
    "jinja2",
    "jobworker.net",
    "jobworker.store.apikeys",
    "jobworker.store.mongo",
    "packaging",
    # Only for rare error lines, the fleet's commands, a submit with a webhook, sending one.
    "logging",
    "jobworker.fleet",
    "jobworker.webhooks.config",
    "jobworker.webhooks.signing",
    "jobworker.webhooks.delivery",
    "hmac",
    # wordstats' parameters are plain: built without cattrs (validation._plain_instance).
    "cattrs",
)


def imported(tmp_path, *args: str) -> tuple[str, set[str]]:
    done, modules = run_cli(tmp_path, *args)
    return done.stdout, modules


def test_version_imports_no_plugin_and_nothing_heavy(tmp_path):
    out, modules = imported(tmp_path, "--version")
    assert out.startswith("jobworker, version ")
    assert not {m for m in modules if m.startswith("worker_plugin_")}
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY}
    assert "cattrs" not in modules and "jobworker.client" not in modules


def test_submit_imports_only_the_plugin_of_its_type(tmp_path):
    store = f"sqlite:///{tmp_path / 'q.db'}"
    out, modules = imported(tmp_path, "--store", store, "submit", "wordstats", "-p", "text=hi")
    assert out.strip().startswith("job-")
    plugins = {m.split(".")[0] for m in modules if m.startswith("worker_plugin_")}
    assert plugins == {"worker_plugin_wordstats"}
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY}


def test_submit_of_an_alias_loads_every_plugin_and_still_works(tmp_path):
    # No entry point is named "transformer_template": submit falls back to all plugins.
    store = f"sqlite:///{tmp_path / 'q.db'}"
    out, modules = imported(
        tmp_path, "--store", store, "submit", "transformer_template", "-p", "template_content=x"
    )
    assert out.strip().startswith("job-")
    assert {"worker_plugin_transform", "worker_plugin_wordstats"} <= {
        m.split(".")[0] for m in modules
    }


# The modules of other commands: ``submit`` and ``--version`` import none of them.
OTHER_COMMANDS = (
    "jobworker.cli.serve",
    "jobworker.cli.run",
    "jobworker.cli.plugin_commands",
    "jobworker.cli.fleet_commands",
    "jobworker.scaffold",
)


def test_version_and_submit_import_no_other_command(tmp_path):
    _, modules = imported(tmp_path, "--version")
    assert not modules & {*OTHER_COMMANDS, "jobworker.cli.jobs", "jobworker.store.apikeys"}
    store = f"sqlite:///{tmp_path / 'q.db'}"
    out, modules = imported(tmp_path, "--store", store, "submit", "wordstats", "-p", "text=hi")
    assert out.strip().startswith("job-")
    assert "jobworker.cli.jobs" in modules
    assert not modules & set(OTHER_COMMANDS)
    # The plugin's plain ``jobworker>=0.1,<0.2`` needs no full requirement parser.
    assert "packaging.requirements" not in modules and "packaging.markers" not in modules


def test_version_reads_no_metadata_and_submit_imports_no_server_or_http(tmp_path):
    _, modules = imported(tmp_path, "--version")
    # jobworker.__version__: no importlib.metadata, no model, no plugin machinery.
    assert not with_parents(modules) & {
        *NOT_FOR_SUBMIT,
        "importlib.metadata",
        "jobworker.model",
        "attrs",
        "pluggy",
        "cattrs",
    }
    store = f"sqlite:///{tmp_path / 'q.db'}"
    out, modules = imported(tmp_path, "--store", store, "submit", "wordstats", "-p", "text=hi")
    assert out.strip().startswith("job-")
    assert not with_parents(modules) & set(NOT_FOR_SUBMIT)
    # What a submit does need is there (so the list above is not trivially true).
    assert {"jobworker.client", "jobworker.store.sqlite", "worker_plugin_wordstats"} <= (
        with_parents(modules)
    )


def test_a_lazy_command_is_imported_when_it_runs(tmp_path):
    store = f"sqlite:///{tmp_path / 'q.db'}"
    out, modules = imported(tmp_path, "--store", store, "keys", "list", "--json")
    assert json.loads(out) == []
    assert {"jobworker.cli.serve", "jobworker.store.apikeys"} <= modules
    assert "jobworker.cli.plugin_commands" not in modules


def test_help_lists_every_command_with_its_short_help(tmp_path):
    from jobworker.cli import COMMANDS

    out, _ = imported(tmp_path, "--help")
    listed = {
        line.split()[0]: line.split(None, 1)[1]
        for line in out.split("Commands:")[1].splitlines()
        if line.strip() and len(line.split()) > 1
    }
    assert set(COMMANDS) <= set(listed)
    assert listed["submit"].startswith("Submit")


def test_names_imported_on_first_use_are_the_same_objects():
    # jobworker.client and jobworker.webhooks resolve these lazily (PEP 562).
    import jobworker
    from jobworker import client, webhooks
    from jobworker.webhooks import delivery, job_type, signing

    assert client.verify_webhook is webhooks.verify_webhook is signing.verify_webhook
    assert jobworker.verify_webhook is signing.verify_webhook
    assert webhooks.WebhookSignatureError is signing.WebhookSignatureError
    # The webhook job type is registered from the light module; delivery re-exports it.
    assert delivery.delivery_handler is job_type.delivery_handler
    assert delivery.DeliveryParams is job_type.DeliveryParams
