"""A new machine's first start against a real server: the enrolment code from the managers' page
becomes its device token, kept in its data folder; the code works once; revoking stops the machine."""

from __future__ import annotations

import pytest
import requests

from kiosk import cli
from kiosk.api import HallClient
from kiosk.config import with_enrolment
from kiosk.errors import KioskError, Unauthorized
from tests.kiosk.helpers import HALL, make_config

pytestmark = pytest.mark.timeout(240)


def test_first_start_enrols_with_the_code_and_a_revoked_token_stops_the_machine(kserver, tmp_path, capsys):
    manager = kserver.server.login("manager", "test-pass-m")["token"]
    headers = {"Authorization": f"Bearer {manager}"}
    api = kserver.server.api
    r = requests.post(
        f"{api}/halls/{HALL}/enrolments",
        json={"role": "kiosk", "label": "二楼取号机"},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert len(code) == 9 and code[4] == "-"
    cfg = make_config("visitor", kserver.url, tmp_path / "k")
    # Typed as people type it: lower case, no dash.
    enrolled = with_enrolment(cli.enrol(cfg, code.lower().replace("-", "")))
    assert "已登记" in capsys.readouterr().out
    assert enrolled.token and enrolled.hall == HALL
    assert (tmp_path / "k" / "enrolled.json").stat().st_mode & 0o077 == 0
    ticket = HallClient(kserver.url, enrolled.token).issue_ticket(HALL, "T-001")
    assert ticket.number.startswith("A")
    # The hall's server is shared by the kiosk tests: the ticket leaves the queue as its holder
    # would (the phone page's cancel), so no later test's 下一位 calls it.
    r = requests.post(f"{api}/track/{ticket.track_token}/cancel", timeout=30)
    assert r.status_code == 200, r.text
    # The code works once.
    with pytest.raises(KioskError) as again:
        HallClient(kserver.url).enrol(code)
    assert "登记码" in again.value.message_zh
    # The managers' device page lists it by its label; revoking it stops the machine.
    reg = requests.get(f"{api}/halls/{HALL}/device-registry", headers=headers, timeout=30).json()
    mine = next(t for t in reg["tokens"] if t["label"] == "二楼取号机" and not t["revoked"])
    r = requests.post(f"{api}/tokens/{mine['id']}/revoke", headers=headers, timeout=30)
    assert r.status_code == 204
    with pytest.raises(Unauthorized):
        HallClient(kserver.url, enrolled.token).issue_ticket(HALL, "T-001")
