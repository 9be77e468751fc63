"""The real `vastai` (1.9.1) against a stand-in API that answers by API key (issue 22): one
account, the one that created the instance; empty answers and destroys read as vastai prints
them; an expired 2FA session's fallback to another key is a failed listing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minitrain import vendors
from tests.vast_api import VastApi

VAST = {"id": 4242, "label": "lab02", "actual_status": "running", "dph_total": 0.62}
TEAM = {"id": 7835617, "label": "team-run", "actual_status": "running", "dph_total": 0.31}
TEAM_KEY = "team-key-not-real-0002"


def test_an_account_named_by_the_create_is_the_one_listed_and_destroyed(vast: VastApi) -> None:
    vast.instances = [VAST]
    vast.accounts[TEAM_KEY] = [TEAM]
    team = vendors.get("vast", vendors.Account(TEAM_KEY))
    assert [i.id for i in team.instances()] == ["7835617"]
    assert [i.id for i in vendors.get("vast").instances()] == ["4242"]  # the environment's
    assert vendors.terminate_and_confirm(team, "7835617") is False
    assert (vast.accounts[TEAM_KEY], vast.instances) == ([], [VAST])


def test_an_account_on_another_server_is_asked_there(vast: VastApi) -> None:
    other = VastApi(instances=[TEAM])
    from tests.vast_api import Served

    served = Served(other)
    try:
        there = vendors.get("vast", vendors.Account(url=served.url))
        assert [i.id for i in there.instances()] == ["7835617"]
    finally:
        served.stop()
    assert vast.calls == []


@pytest.mark.parametrize("mode", ["no-instances", "null-instances"])
def test_a_listing_without_its_instances_prints_an_empty_list(vast: VastApi, mode: str) -> None:
    """vastai/api/instances.py show_instances: `data.get("instances") or []`."""
    vast.instances, vast.mode = [VAST], mode
    assert vendors.get("vast").instances() == []


def test_a_destroy_of_no_such_instance_is_the_apis_own_answer(vast: VastApi) -> None:
    """404 no_such_instance (vast-ai/docs openapi): vastai prints `Failed with error 404:
    Instance 4242 not found.` and exits 0."""
    assert vendors.get("vast").terminate("4242") is True
    vast.mode = "500"
    with pytest.raises(vendors.VendorError, match="HTTP 500"):
        vendors.get("vast").terminate("4242")


def test_an_expired_2fa_session_that_fell_back_to_another_key_is_a_failed_listing(
    vast: VastApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vastai/cli/main.py run_command: prose on stdout, the 2FA key file deleted, the command
    run again with the personal key (here another account, with an instance of its own)."""
    monkeypatch.delenv("VAST_API_KEY")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "vastai"
    config.mkdir(parents=True, exist_ok=True)
    (config / "vast_tfa_key").write_text("expired-session-key-0003")
    (config / "vast_api_key").write_text(TEAM_KEY)
    vast.instances, vast.accounts[TEAM_KEY] = [VAST], [TEAM]
    with pytest.raises(vendors.VendorError, match="2FA session had expired") as caught:
        vendors.get("vast").instances()
    assert "may belong to another account" in str(caught.value)
    assert not (config / "vast_tfa_key").exists()  # vastai's own doing


def test_a_listing_without_instances_never_ends_the_watch_and_the_cap_still_destroys(
    vast: VastApi, tmp_path: Path
) -> None:
    """Issue 22: a 200 listing without `instances` printed `[]`; the watcher said "no longer
    listed" and at the cap declared the instance gone without ever destroying it."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from minitrain import watch

    vast.instances, vast.mode = [{**VAST, "id": 9408}], "no-instances"
    start = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
    state = watch.load_or_start(
        tmp_path, label="lab02", instance="9408", vendor="vast", start=start, cap_hours=Decimal(4)
    )
    said: list[str] = []
    for hours in (1, 2, 3):
        looked = watch.check(tmp_path, state, now=start + timedelta(hours=hours), say=said.append)
        assert looked is watch.Look.WATCHING
    assert len(said) == 1
    assert said[0].startswith("9408 is not listed by vastai since 21:00 UTC")
    assert not [call for call in vast.calls if call.startswith("DELETE")]
    looked = watch.check(tmp_path, state, now=start + timedelta(hours=4), say=said.append)
    assert looked is watch.Look.DONE
    assert "DELETE /api/v0/instances/9408/" in vast.calls
    assert vast.instances == []
    assert said[-1].startswith("terminated 9408")


def test_the_pre_flight_lists_with_the_account_the_create_will_name(
    lab: Path, vast: VastApi
) -> None:
    """Issue 22: the pre-flight listed with the environment's key while the create used a team
    key: the team's running instance was never seen. Given the create's account, it is."""
    from minitrain.errors import NotPassed
    from minitrain.preflight.session import Options, run_checklist
    from tests.minitrain.conftest import vast_lab
    from tests.minitrain.preflight.conftest import FakePerson
    from tests.minitrain.test_whole_day import VAST_ANSWERS

    vast_lab(lab)
    vast.instances, vast.accounts[TEAM_KEY] = [], [TEAM]
    team = vendors.Account(TEAM_KEY)
    person = FakePerson(VAST_ANSWERS)
    with pytest.raises(NotPassed, match="`vastai` lists 1 instance"):
        run_checklist(
            Options("lab02-tp-spinup", "3.00", account=team, dry_run=True), terminal=person
        )
    assert person.asked == []  # stopped before the first question
    outcome = run_checklist(
        Options("lab02-tp-spinup", "3.00", dry_run=True), terminal=FakePerson(VAST_ANSWERS)
    )
    assert outcome.status == "would-authorize"  # the environment's account has none
    records = list((lab / "experiments/35-cloud-budget/preflight").glob("*.json"))
    assert all(TEAM_KEY not in p.read_text() for p in records)  # the key is never written
