"""The case base: built from a simulated plant's work orders, stored in the bundle, searched in English and
Chinese, by fused state, and through the command line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from omnimaint.baselines.bm25 import tokenize
from omnimaint.cli import app
from omnimaint.data.dataset import Dataset
from omnimaint.diagnosis.case_builder import CaseBaseConfig, corrective_orders, fused_states
from omnimaint.diagnosis.case_store import CASE_VECTORS_FILE, CASES_FILE, build_cases, load_case_base, search_cases
from omnimaint.diagnosis.cases import Case, CaseBase, CaseMatch, suggest
from omnimaint.diagnosis.retrieval import HybridRetriever, TextEncoderSpec, vote_actions
from omnimaint.errors import ConfigError
from omnimaint.inference.bundle import Bundle, BundleError
from omnimaint.inference.predictor import Predictor
from tests.unit.inference.tampering import copy_bundle, rehash

runner = CliRunner()


@pytest.fixture(scope="module")
def chinese(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CaseBase]:
    """A Chinese plant and a bundle trained with the domain text encoder, with its case base in it."""
    from omnimaint.sim import PlantConfig, simulate
    from omnimaint.training.run import train
    from tests.unit.training.tiny import tiny_config

    root = tmp_path_factory.mktemp("zh")
    config = PlantConfig(
        n_assets=6, days=24, seed=3, lang="zh", fault_rate_scale=5.0, telemetry_period_s=1800, workers=1
    )
    simulate(config, root / "plant")
    bundle = train(tiny_config(root / "plant", root / "run", **{"model.text.name": "domain"}))
    assert bundle is not None
    return build_cases(bundle, root / "plant", states=False)


def test_each_corrective_order_is_a_case_linked_to_the_failure_it_closed(
    cased: tuple[Path, CaseBase], small_plant: Path
) -> None:
    _, case_base = cased
    dataset = Dataset(small_plant)
    assert [c.case_id for c in case_base.cases] == corrective_orders(dataset)["work_order_id"].tolist()
    failures = dataset.table("failures")
    linked = [c for c in case_base.cases if c.failure_at is not None]
    assert linked, "the small plant has failures closed by corrective orders"
    for case in linked:
        at = pd.Timestamp(case.failure_at)  # type: ignore[arg-type]
        row = failures[(failures["asset_id"] == case.asset_id) & (failures["ts"] == at)]
        assert row["fault_type"].tolist() == [case.fault_type]
        assert row["component"].tolist() == [case.component]
    assert all(c.asset_type in ("centrifugal_pump", "cnc_spindle", "conveyor_drive") for c in case_base.cases)
    assert case_base.state_present.tolist() == [c.failure_at is not None for c in case_base.cases]
    assert case_base.states.shape == (len(case_base), 32)  # d_model of the tiny bundle
    assert np.allclose(np.linalg.norm(case_base.text_embeddings, axis=1), 1.0, atol=1e-4)


def test_the_case_base_round_trips_through_the_bundle(cased: tuple[Path, CaseBase], trained_bundle: Path) -> None:
    path, built = cased
    bundle = Bundle.load(path)
    assert {CASES_FILE, CASE_VECTORS_FILE} <= set(bundle.files)
    original = Bundle.load(trained_bundle)
    assert {name: bundle.files[name] for name in original.files} == original.files  # the model is unchanged
    loaded = load_case_base(bundle)
    assert loaded.cases == built.cases and loaded.actions == built.actions
    assert np.array_equal(loaded.text_embeddings, built.text_embeddings)
    assert np.array_equal(loaded.states, built.states) and np.array_equal(loaded.state_present, built.state_present)
    assert loaded.text_encoder == TextEncoderSpec("pretrained", None)
    query = built.cases[0].problem
    assert [m.case.case_id for m in loaded.search(query, 3)] == [m.case.case_id for m in built.search(query, 3)]


def test_a_changed_case_base_is_refused(cased: tuple[Path, CaseBase], tmp_path: Path) -> None:
    path, _ = cased
    edited = copy_bundle(path, tmp_path / "edited")
    content = json.loads((edited / CASES_FILE).read_text(encoding="utf-8"))
    content["cases"][0]["action"] = "ignore the alarm"
    (edited / CASES_FILE).write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(BundleError, match="checksum differs"):
        Bundle.load(edited)
    vectors = copy_bundle(path, tmp_path / "vectors")
    data = bytearray((vectors / CASE_VECTORS_FILE).read_bytes())
    data[-1] ^= 0xFF
    (vectors / CASE_VECTORS_FILE).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum differs"):
        Bundle.load(vectors)
    content["cases"][0]["secret"] = 1  # re-hashed by hand, but not a case base this omnimaint wrote
    (edited / CASES_FILE).write_text(json.dumps(content), encoding="utf-8")
    rehash(edited)
    with pytest.raises(BundleError, match=r"invalid field 'cases\.0\.secret'"):
        load_case_base(Bundle.load(edited))


def test_a_bundle_without_a_case_base_says_how_to_build_one(trained_bundle: Path) -> None:
    with pytest.raises(BundleError, match=r"has no case base .*build one with `omnimaint cases build"):
        search_cases(trained_bundle, "bearing noise")


def test_text_search_finds_cases_of_the_same_fault(cased: tuple[Path, CaseBase]) -> None:
    _, case_base = cased
    for case in case_base.cases:
        if case.fault_type is None:
            continue
        top = case_base.search(case.problem, 1)[0]
        assert top.case.fault_type == case.fault_type, case.problem
    with pytest.raises(ConfigError, match="empty"):
        case_base.search("  ")


def test_a_live_state_finds_the_failure_it_was_taken_before(
    cased: tuple[Path, CaseBase], trained_bundle: Path, small_plant: Path
) -> None:
    _, case_base = cased
    predictor = Predictor.from_bundle(trained_bundle, threads=1)
    case = next(c for c in case_base.cases if c.failure_at is not None)
    assert case.failure_at is not None
    at = pd.Timestamp(case.failure_at) - pd.Timedelta(hours=case_base.state_lead_hours or 0)
    state = fused_states(predictor, Dataset(small_plant), pd.Series([case.asset_id]), pd.Series([at]), 8, False)[0]
    nearest = case_base.similar_cases(state, 3)
    assert nearest[0].case.case_id == case.case_id and nearest[0].score == pytest.approx(1.0, abs=1e-5)
    assert all(m.case.failure_at is not None for m in nearest)
    with pytest.raises(ConfigError, match="width"):
        case_base.similar_cases(state[:5])


def _case(case_id: str, group: int, outcome: str) -> Case:
    opened = datetime(2024, 1, 1, tzinfo=UTC)
    return Case(case_id=case_id, asset_id="A", opened=opened, action_group=group, outcome=outcome)  # type: ignore[arg-type]


def test_suggestions_rank_actions_by_the_votes_of_similar_cases() -> None:
    matches = [
        CaseMatch(_case("near", 1, "held"), 0.9, 0),
        CaseMatch(_case("second", 0, "failed_again"), 0.8, 1),
        CaseMatch(_case("third", 0, "held"), 0.7, 2),
        CaseMatch(_case("fourth", 0, "unknown"), 0.6, 3),
        CaseMatch(_case("fifth", 0, "held"), 0.5, 4),
    ]
    actions = ["replace bearing", "clean fan"]
    # Votes 1/(1 + position), halved for a fix that failed again: 1/4 + 1/3 + 1/4 + 1/5 against 1.
    first, second = suggest(matches, actions)
    assert first.action == "replace bearing" and first.case_ids == ("second", "third", "fourth", "fifth")
    assert (first.held, first.failed_again, first.unknown) == (2, 1, 1)
    assert first.success_rate == pytest.approx(2 / 3) and first.score == pytest.approx(1 / 4 + 1 / 3 + 1 / 4 + 1 / 5)
    assert second.action == "clean fan" and second.case_ids == ("near",) and second.success_rate == 1.0
    assert [s.action for s in suggest(matches[:3], actions)] == ["clean fan", "replace bearing"]


class _BagOfLetters:
    """A deterministic stand-in sentence encoder: normalised letter counts."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_hybrid_retrieval_puts_one_document_per_action_first() -> None:
    documents = ["pump seal leaking", "seal leak at pump", "seal dripping", "bearing noise", "belt slipping"]
    actions = ["Replaced seal.", "replaced seal", "new seal kit", "replaced bearing", "new belt"]
    retriever = HybridRetriever(encoder=_BagOfLetters(), neighbours=5).fit(documents, actions)
    scores = retriever.score(["seal leaking"])
    assert scores.shape == (1, 5)
    top = np.argsort(-scores[0], kind="stable")
    assert top[0] == 0  # the "replaced seal" group (two documents agree) comes first, by its best document
    assert 1 not in top[:4]  # its second document does not take a place of another action
    assert np.allclose(vote_actions(np.array([[0.3, 0.2]]), np.array([0, 0]), 2), [[2.5, 0.2]])
    with pytest.raises(ConfigError, match="2 actions for 5 documents"):
        HybridRetriever(encoder=_BagOfLetters()).fit(documents, actions[:2])


def test_chinese_work_orders_are_found_by_chinese_queries(chinese: tuple[Path, CaseBase]) -> None:
    path, case_base = chinese
    assert tokenize("机械密封泄漏") == ["机械", "械密", "密封", "封泄", "泄漏"]
    assert case_base.text_encoder == TextEncoderSpec("domain")
    assert all(ord(max(c.problem)) > 0x3000 for c in case_base.cases if c.problem)  # Chinese text
    loaded = load_case_base(Bundle.load(path))
    for case in loaded.cases:
        if case.fault_type is not None:
            assert loaded.search(case.problem, 1)[0].case.fault_type == case.fault_type, case.problem
    found = search_cases(path, "密封漏水", k=3)
    assert len(found.matches) == 3 and found.suggestions


def test_the_command_line_builds_and_searches(cased: tuple[Path, CaseBase], trained_bundle: Path) -> None:
    path, case_base = cased
    result = runner.invoke(
        app, ["cases", "search", str(path), "noisy bearing, high vibration", "-k", "2", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert len(found["matches"]) == 2 and found["suggestions"][0]["case_ids"]
    assert {m["case"]["case_id"] for m in found["matches"]} <= {c.case_id for c in case_base.cases}
    result = runner.invoke(app, ["cases", "search", str(path), "轴承异响", "-k", "1"])
    assert result.exit_code == 0 and "suggested actions" in result.output
    result = runner.invoke(app, ["cases", "search", str(trained_bundle), "bearing"])
    assert result.exit_code == 1 and "omnimaint cases build" in result.output


def test_build_in_place_keeps_the_bundle_and_export_keeps_the_cases(
    trained_bundle: Path, small_plant: Path, tmp_path: Path
) -> None:
    from omnimaint.inference.export import export_bundle

    bundle = copy_bundle(trained_bundle, tmp_path / "bundle")
    result = runner.invoke(app, ["cases", "build", str(bundle), str(small_plant), "--no-states", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "with a fused state" in result.output
    export_bundle(bundle)
    kept = Bundle.load(bundle)
    assert {"model.onnx", CASES_FILE} <= set(kept.files)
    assert load_case_base(kept, load_encoder=False).n_states == 0
    onnx = Predictor(kept, "onnx")
    batch = onnx.windows(Dataset(small_plant)).batch(np.arange(2))
    with pytest.raises(BundleError, match="backend='torch'"):
        onnx.fused_state(batch)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="action_similarity"):
        CaseBaseConfig(action_similarity=0.0)
