"""Registry: one-line compositions, ablation rows that differ by exactly their part, parameter counts."""

from __future__ import annotations

import pytest

from sbrzoo.errors import ConfigError, UnknownNameError
from sbrzoo.models import ModelSpec, create_model, get_spec, list_models, register
from sbrzoo.presets import resolve_hyperparameters

ABLATIONS = {
    "tagnnpp_no_agc": set(),  # a training-side part: no parameters change
    "tagnnpp_no_gnn": {"graph_encoder"},
    "tagnnpp_no_pe": {"positional"},
    "tagnnpp_no_transformer": {"transformer", "positional"},  # PE feeds the block, so it leaves with it
}


def parameter_groups(name: str, dataset: str = "synthetic") -> set[str]:
    spec = get_spec(name)
    model = create_model(name, 50, resolve_hyperparameters(spec.family, dataset))
    return {n.split(".")[0] for n, _ in model.named_parameters()}


def test_every_table_row_is_registered() -> None:
    assert {"pop", "srgnn", "tagnn", "tagnnpp", *ABLATIONS} <= set(list_models())
    assert list_models("tagnnpp*") == ["tagnnpp", *ABLATIONS]


@pytest.mark.parametrize("row", sorted(ABLATIONS))
def test_ablation_rows_remove_exactly_their_part(row: str) -> None:
    full, ablated = parameter_groups("tagnnpp"), parameter_groups(row)
    assert full - ablated == ABLATIONS[row]
    assert ablated <= full
    assert get_spec(row).agc is (row != "tagnnpp_no_agc")


def test_unknown_model_suggests_a_name() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'tagnnpp'"):
        get_spec("tagnnp")


def test_duplicate_and_invalid_registrations_are_refused() -> None:
    with pytest.raises(ConfigError, match="already registered"):
        register(ModelSpec("srgnn", "srgnn", "again"))
    with pytest.raises(ConfigError, match="positional"):
        register(ModelSpec("broken_pe", "tagnnpp", "PE without block", positional=True))


@pytest.mark.parametrize(
    ("name", "dim", "expected"),
    [
        # docs/MODELS.md §3.6: 161,500 / 232,200 include SR-GNN's never-used 10,100 (d=100) / 14,520 (d=120)
        # parameter linear, which the zoo does not create.
        ("srgnn", 100, 161_500 - 10_100),
        ("tagnn", 100, 161_500 - 10_100 + 10_000),
        ("srgnn", 120, 232_200 - 14_520),
        ("tagnn", 120, 246_600 - 14_520),
    ],
)
def test_parameter_counts_match_the_reference(name: str, dim: int, expected: int) -> None:
    hp = resolve_hyperparameters(get_spec(name).family, "diginetica", {"dim": dim})
    model = create_model(name, 43_097, hp)
    non_embedding = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("embedding"))
    assert non_embedding == expected
    assert model.embedding.weight.shape == (43_098, dim)


def test_presets_follow_the_paper_per_dataset() -> None:
    digi, yoo = resolve_hyperparameters("tagnnpp", "diginetica"), resolve_hyperparameters("tagnnpp", "yoochoose1_64")
    assert (digi.dim, digi.heads, yoo.dim, yoo.heads) == (120, 8, 100, 2)
    assert (digi.batch_size, digi.lr, digi.weight_decay, digi.epochs, digi.dropout) == (50, 1e-4, 1e-6, 15, 0.1)
    assert resolve_hyperparameters("srgnn", "diginetica").lr == 1e-3
    assert resolve_hyperparameters("tagnnpp", "diginetica", {"dim": 64, "heads": None}).dim == 64
    with pytest.raises(ConfigError, match="did you mean 'heads'"):
        resolve_hyperparameters("tagnnpp", "diginetica", {"head": 4})
