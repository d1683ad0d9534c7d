"""The agent's TXT record: both directions, the DNS limits, and records that are not an agent's."""

from __future__ import annotations

import pytest

from sttdesk.announcement import TXT_STRING_LIMIT, AgentAnnouncement, AnnouncementError, instance_label


def card(**changes: object) -> AgentAnnouncement:
    fields: dict[str, object] = dict(agent_id="a1b2c3", name="Phòng kế toán", protocol=1, version="0.1.0",
                                     slots=4, threads=1, models=("base-q8_0", "small-q5_0"), cpu="Intel i5 x4",
                                     public_key="k" * 40, fingerprint="3f2a-91bc-0d4e-77a1-c2f0")
    fields.update(changes)
    return AgentAnnouncement(**fields)  # type: ignore[arg-type]


def test_a_record_reads_back_as_written_from_bytes() -> None:
    original = card()
    wire = {k.encode(): v.encode() for k, v in original.properties().items()}
    assert AgentAnnouncement.from_properties(wire) == original


def test_long_fields_are_cut_to_fit_and_left_out_models_are_counted() -> None:
    many = tuple(f"model-number-{i:03d}" for i in range(40))
    props = card(models=many, cpu="x" * 400).properties()
    assert all(len(f"{k}={v}".encode()) <= TXT_STRING_LIMIT for k, v in props.items())
    back = AgentAnnouncement.from_properties(props)
    assert back.models == many[: len(back.models)] and 0 < len(back.models) < 40
    assert back.models_more == 40 - len(back.models)


def test_an_agent_without_a_key_announces_none() -> None:
    props = card(public_key="", fingerprint="").properties()
    assert "key" not in props and "fp" not in props


@pytest.mark.parametrize("props, why", [
    ({"proto": "1"}, "no agent id"),
    ({"id": "x", "proto": "one"}, "not a number"),
    ({"id": "x", "proto": "1", "slots": "-2"}, "negative"),
])
def test_records_that_are_not_an_agents_are_refused(props: dict[str, str], why: str) -> None:
    with pytest.raises(AnnouncementError, match=why):
        AgentAnnouncement.from_properties(props)


def test_instance_labels_have_no_dots_and_fit_dns() -> None:
    assert instance_label("pc.office.lan") == "pc-office-lan"
    assert len(instance_label("é" * 100).encode()) <= 63
    assert instance_label("   ") == "sttdesk-agent"
