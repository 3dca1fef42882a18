"""schemathesis against the OpenAPI document of a real ``jobworker serve``: every documented
operation is called with generated requests (valid and invalid ones); no answer may be a 5xx,
and every answer the document describes must match its schema. Few examples per operation, so
the run stays short; the event streams (endless by design) are left out.

(schemathesis's own pytest plugin does not work with pytest 9, so the operations are driven with
hypothesis directly.)"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from serverproc import start_server


def test_no_server_errors_and_no_schema_violations(tmp_path) -> None:
    server = start_server(f"sqlite:///{tmp_path}/jobs.db", tmp_path, "--rate", "0")
    try:
        auth = {"Authorization": f"Bearer {server.make_key('fuzzer', 'admin')}"}
        with server.as_("fuzzer") as client:  # real ids for the generator to stumble on
            client.post("/v1/batches", json={"jobs": [{"job_type": "async"}] * 2})
        schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
        schema = schema.exclude(path_regex=r"(events|stream)$")
        labels = []
        for result in schema.get_all_operations():
            operation = result.ok()
            labels.append(operation.label)

            @given(case=operation.as_strategy())
            @settings(
                max_examples=8,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def call(case) -> None:
                case.call_and_validate(
                    headers=auth, checks=[not_a_server_error, response_schema_conformance]
                )

            call()
        assert "POST /v1/jobs" in labels and "GET /api/jobs/{job_id}" in labels
        assert len(labels) >= 20
    finally:
        server.stop()
