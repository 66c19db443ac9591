"""Every registered part and model, one entry each: the parts, the paper models and their Table II
ablation rows, the released-code variants (``*_ref``), and the counting baselines.

A new model is one part file (if it needs a new part), one ``register_part`` line per new part,
one ``register`` line here, and its preset in :mod:`sbrzoo.presets` (docs/ADDING_A_MODEL.md).
"""

from __future__ import annotations

from dataclasses import replace

from sbrzoo.models._parts import PartSpec, register_part
from sbrzoo.models._registry import ModelSpec, register

__all__ = ["TABLE_I_MODELS", "TABLE_II_MODELS"]

_NN = "sbrzoo.nn"

# -- parts ------------------------------------------------------------------------------------------
register_part(PartSpec("input", "items", f"{_NN}.item_input:ItemInput", "item embeddings of the nodes",
                       settings={"dim": 100}))
register_part(PartSpec("input", "items_max_norm", f"{_NN}.item_input:MaxNormItemInput",
                       "item embeddings renormalised to max_norm first (LESSR)",
                       settings={"dim": 100, "max_norm": 1.0}))
register_part(PartSpec("input", "items_padded", f"{_NN}.item_input:PaddedItemInput",
                       "item embeddings plus the split-wide padding node of the released SR-GNN-family code",
                       settings={"dim": 100}))
register_part(PartSpec("node_encoder", "gated_gnn", f"{_NN}.gated_gnn:GatedSessionGNN",
                       "SR-GNN's gated graph cell over the session graph", graphs=("session",),
                       settings={"gnn_steps": 1}))
register_part(PartSpec("node_encoder", "gated_gnn_ref", f"{_NN}.gated_gnn:GatedSessionGNN",
                       "the gated cell with the released code's unused linear layer", graphs=("session",),
                       settings={"gnn_steps": 1}, fixed={"vestigial": True}))
register_part(PartSpec("node_encoder", "node_attention_ref", f"{_NN}.node_attention:NodeSelfAttention",
                       "the released TAGNN++ code's attention over id-ordered nodes and the padding node",
                       settings={"heads": 2, "dropout": 0.1}, static_shapes=False))
register_part(PartSpec("node_encoder", "eopa_sgat", f"{_NN}.lessr:LessrEncoder",
                       "LESSR's dense stack of EOPA and SGAT layers", graphs=("eop", "shortcut"),
                       settings={"num_layers": 3, "dropout": 0.2}, static_shapes=False))
register_part(PartSpec("sequence_encoder", "positional", f"{_NN}.positional:PositionalEmbedding",
                       "a learned vector per click position"))
register_part(PartSpec("sequence_encoder", "transformer", f"{_NN}.transformer:TransformerBlock",
                       "a post-LN Transformer encoder layer over the clicks",
                       settings={"heads": 2, "dropout": 0.1, "ffn_mult": 4, "causal": True}))
register_part(PartSpec("readout", "soft_attention", f"{_NN}.readout:SoftAttentionReadout",
                       "SR-GNN's attention over the clicks, queried by the last one (raw scores)",
                       settings={"hybrid": True}, fixed={"normalize": False}))
register_part(PartSpec("readout", "softmax_attention", f"{_NN}.readout:SoftAttentionReadout",
                       "TAGNN's soft attention, normalised by a softmax", settings={"hybrid": True},
                       fixed={"normalize": True}))
register_part(PartSpec("readout", "lessr_attention", f"{_NN}.readout:LessrReadout",
                       "LESSR's attention over the nodes and session projection", graphs=("eop",),
                       settings={"dropout": 0.2}))
register_part(PartSpec("scorer", "dot", f"{_NN}.dot_scorer:DotScorer", "session vector . item embedding"))
register_part(PartSpec("scorer", "target_attention", f"{_NN}.target_attention:TargetAttentionScorer",
                       "TAGNN's target attention: the clicks re-weighted for every candidate"))
# GC-SAN (sbrzoo/nn/gcsan.py) and NARM (sbrzoo/nn/narm.py): one part file each, docs/MODELS.md §3.8.5, §3.8.6.
register_part(PartSpec("sequence_encoder", "self_attention", f"{_NN}.gcsan:SelfAttentionBlocks",
                       "GC-SAN's k single-head self-attention blocks with a residual feed-forward",
                       settings={"num_layers": 1, "dropout": 0.2, "causal": False}))
register_part(PartSpec("readout", "weighted_last", f"{_NN}.gcsan:WeightedLastReadout",
                       "GC-SAN's omega * last click's attention state + (1 - omega) * its GNN state",
                       settings={"omega": 0.6}))
register_part(PartSpec("readout", "narm_attention", f"{_NN}.narm:NarmReadout",
                       "NARM's last GRU state and attention over the states, projected by its bilinear B",
                       settings={"context_dropout": 0.5}))

# GRU4Rec, STAMP, RepeatNet, CSRM (sbrzoo/nn/gru4rec.py, stamp.py, repeatnet.py, csrm.py): docs/MODELS.md §3.8.1-§3.8.4.
register_part(PartSpec("sequence_encoder", "click_gru", f"{_NN}.gru4rec:ClickGRU",
                       "one GRU layer over the clicks, dropout on its input and output (GRU4Rec, NARM, RepeatNet)",
                       settings={"hidden_size": 100, "input_dropout": 0.0, "hidden_dropout": 0.0}))
register_part(PartSpec("readout", "last_hidden", f"{_NN}.gru4rec:LastHiddenReadout",
                       "the last click's state, projected to the embedding width when it differs (GRU4Rec)"))
register_part(PartSpec("readout", "stamp_attention", f"{_NN}.stamp:StampReadout",
                       "STAMP: attention with last click and mean, tanh(W_s m_a) * tanh(W_t m_t)"))
register_part(PartSpec("readout", "explore_attention", f"{_NN}.repeatnet:ExploreReadout",
                       "RepeatNet's explore decoder: W_c [attention over the states; last state]"))
register_part(PartSpec("scorer", "repeat_explore", f"{_NN}.repeatnet:RepeatExploreScorer",
                       "RepeatNet's mixture of the repeat and explore decoders (log-probabilities)"))
register_part(PartSpec("sequence_encoder", "twin_gru", f"{_NN}.csrm:TwinGRU",
                       "CSRM's global and local GRUs side by side over the click embeddings",
                       settings={"hidden_size": 100, "input_dropout": 0.0}))
register_part(PartSpec("readout", "csrm_memory", f"{_NN}.csrm:CsrmReadout",
                       "CSRM: NARM's inner encoder + an outer memory of recent sessions, gated, bilinear",
                       settings={"memory_size": 512, "memory_neighbours": 0, "readout_dropout": 0.0},
                       static_shapes=False))

# -- models -----------------------------------------------------------------------------------------
register(ModelSpec(
    "pop", "POP", "Most popular items in training (the trivial baseline)", "pop",
    model_class="sbrzoo.models.popularity:PopularityModel",
))

SRGNN = register(ModelSpec(
    "srgnn", "SR-GNN", "SR-GNN: gated GNN + soft-attention readout with the last click", "srgnn",
    node_encoders=("gated_gnn",), readout="soft_attention",
    paper="Wu et al., Session-based Recommendation with Graph Neural Networks, AAAI 2019, arXiv:1811.00855",
    reference={"diginetica": {"HR@20": 50.73, "MRR@20": 17.59}, "yoochoose1_64": {"HR@20": 70.57, "MRR@20": 30.94}},
))

TAGNN = register(replace(
    SRGNN, name="tagnn", label="TAGNN", preset="tagnn", readout="softmax_attention", scorer="target_attention",
    description="TAGNN: SR-GNN + target attention over the clicks for every candidate",
    paper="Yu et al., TAGNN: Target Attentive Graph Neural Networks for Session-based Recommendation, SIGIR 2020",
    reference={"diginetica": {"HR@20": 51.31, "MRR@20": 18.03}, "yoochoose1_64": {"HR@20": 71.02, "MRR@20": 31.12}},
))

TAGNNPP = register(replace(
    TAGNN, name="tagnnpp", label="TAGNN++", preset="tagnnpp", sequence_encoders=("positional", "transformer"),
    agc=True, description="TAGNN++: TAGNN + positional embedding + Transformer block, trained with AGC",
    paper="Mitheran et al., Introducing Self-Attention to Target Attentive Graph Neural Networks, arXiv:2107.01516",
    reference={"diginetica": {"HR@20": 51.86, "MRR@20": 17.93}, "yoochoose1_64": {"HR@20": 71.91, "MRR@20": 31.57}},
))

# Table II: each row removes exactly one part of TAGNN++.
TABLE_II = [
    register(replace(TAGNNPP, name="tagnnpp_no_agc", label="TAGNN++ - AGC", agc=False,
                     description="TAGNN++ without AGC",
                     reference={"diginetica": {"HR@20": 51.57, "MRR@20": 17.65},
                                "yoochoose1_64": {"HR@20": 71.80, "MRR@20": 31.41}})),
    register(replace(TAGNNPP, name="tagnnpp_no_gnn", label="TAGNN++ - GNN", node_encoders=(),
                     description="TAGNN++ without the GNN",
                     reference={"diginetica": {"HR@20": 51.48, "MRR@20": 17.59},
                                "yoochoose1_64": {"HR@20": 71.75, "MRR@20": 31.62}})),
    register(replace(TAGNNPP, name="tagnnpp_no_pe", label="TAGNN++ - PE", sequence_encoders=("transformer",),
                     description="TAGNN++ without the positional embedding",
                     reference={"diginetica": {"HR@20": 51.64, "MRR@20": 17.66},
                                "yoochoose1_64": {"HR@20": 71.69, "MRR@20": 31.48}})),
    # The positional embedding is added to the Transformer's input (docs/MODELS.md §3.4c), so it leaves with
    # the block: what remains is exactly TAGNN's computation, trained with TAGNN++'s settings and AGC.
    register(replace(TAGNNPP, name="tagnnpp_no_transformer", label="TAGNN++ - Transformer", sequence_encoders=(),
                     description="TAGNN++ without the Transformer (and its positional input)",
                     reference={"diginetica": {"HR@20": 51.42, "MRR@20": 17.84},
                                "yoochoose1_64": {"HR@20": 71.03, "MRR@20": 30.69}})),
]

register(ModelSpec(
    "lessr", "LESSR", "LESSR: EOPA and SGAT layers over edge-order-preserving and shortcut graphs", "lessr",
    input="items_max_norm", node_encoders=("eopa_sgat",), readout="lessr_attention", init="default",
    paper="Chen & Wong, Handling Information Loss of Graph Neural Networks for Session-based Recommendation, KDD 2020",
    reference={"diginetica": {"HR@20": 51.71, "MRR@20": 18.15}, "yoochoose1_64": {"HR@20": 70.64, "MRR@20": 30.97}},
))

register(ModelSpec(
    "gcsan", "GC-SAN", "GC-SAN: gated GNN + k self-attention blocks; the last click's two states mixed by omega",
    "gcsan",
    node_encoders=("gated_gnn",), sequence_encoders=("self_attention",), readout="weighted_last",
    paper="Xu et al., Graph Contextualized Self-Attention Network for Session-based Recommendation, IJCAI 2019",
    reference={"diginetica": {"HR@20": 51.70, "MRR@20": 17.61}, "yoochoose1_64": {"HR@20": 70.66, "MRR@20": 30.04}},
))

register(ModelSpec(
    "narm", "NARM", "NARM: GRU encoder, last state + attention over the states, bilinear decoder", "narm",
    sequence_encoders=("click_gru",), readout="narm_attention",
    paper="Li et al., Neural Attentive Session-based Recommendation, CIKM 2017, arXiv:1711.04725",
    reference={"diginetica": {"HR@20": 49.70, "MRR@20": 16.17}, "yoochoose1_64": {"HR@20": 68.32, "MRR@20": 28.63}},
))

register(ModelSpec(
    "gru4rec", "GRU4Rec", "GRU4Rec: a GRU over the clicks, its last state scored against the items", "gru4rec",
    sequence_encoders=("click_gru",), readout="last_hidden",
    paper="Hidasi et al., Session-based Recommendations with Recurrent Neural Networks, ICLR 2016, arXiv:1511.06939",
    reference={"diginetica": {"HR@20": 29.45, "MRR@20": 8.33}, "yoochoose1_64": {"HR@20": 60.64, "MRR@20": 22.89}},
))

register(ModelSpec(
    "stamp", "STAMP", "STAMP: attention with the last click and the session mean, trilinear scores", "stamp",
    readout="stamp_attention",
    paper="Liu et al., STAMP: Short-Term Attention/Memory Priority Model for Session-based Recommendation, KDD 2018",
    reference={"diginetica": {"HR@20": 45.64, "MRR@20": 14.32}, "yoochoose1_64": {"HR@20": 68.74, "MRR@20": 29.67}},
    reference_source="not in the TAGNN++ Table I: the SR-GNN paper's figures for STAMP (Wu et al., AAAI 2019)",
))

register(ModelSpec(
    "repeatnet", "RepeatNet", "RepeatNet: a GRU, then a mixture of repeat (own items) and explore decoders",
    "repeatnet", sequence_encoders=("click_gru",), readout="explore_attention", scorer="repeat_explore",
    paper="Ren et al., RepeatNet: A Repeat Aware Neural Recommendation Machine for Session-based Recommendation, "
          "AAAI 2019, arXiv:1812.02646",
    reference={"diginetica": {"HR@20": 47.79, "MRR@20": 17.66}, "yoochoose1_64": {"HR@20": 70.71, "MRR@20": 31.03}},
))

register(ModelSpec(
    "csrm", "CSRM", "CSRM: NARM-like encoders + an outer memory of recent sessions, fused by a gate", "csrm",
    sequence_encoders=("twin_gru",), readout="csrm_memory",
    paper="Wang et al., A Collaborative Session-based Recommendation Approach with Parallel Memory Modules, SIGIR 2019",
    reference={"diginetica": {"HR@20": 50.55, "MRR@20": 16.38}, "yoochoose1_64": {"HR@20": 71.45, "MRR@20": 30.36}},
))


# -- the released code's behaviour, as variants (docs/MODELS.md §9.2) --------------------------------
def _released_code(spec: ModelSpec) -> ModelSpec:
    """``spec`` as its public code computes it: every prefix padded to the split's longest (softmaxes
    over the padding), the gated cell with its unused layer, TAGNN++'s attention over id-ordered
    nodes instead of a Transformer over the clicks (no positional embedding, no feed-forward), every
    parameter LayerNorm included drawn uniformly, no AGC (built but never called), and the code's
    presets (schedule one epoch early)."""
    node_encoders = tuple("gated_gnn_ref" if n == "gated_gnn" else n for n in spec.node_encoders)
    if "transformer" in spec.sequence_encoders:
        node_encoders += ("node_attention_ref",)
    return replace(
        spec, name=f"{spec.name}_ref", label=f"{spec.label} (code)", preset=f"{spec.preset}_ref", fidelity="reference",
        input="items_padded", node_encoders=node_encoders, sequence_encoders=(), init="uniform_all", agc=False,
        description=f"{spec.description.split(':')[0]} as the released code computes it", reference={},
    )


# tagnnpp_no_agc_ref and tagnnpp_no_pe_ref compute what tagnnpp_ref does (the code never clips, and its
# variant has no positional encoding to remove): registered all the same, so that every Table II row has a
# released-code variant and `sbrzoo ablation --fidelity reference` shows what removing the part does there.
for _spec in (SRGNN, TAGNN, TAGNNPP, *TABLE_II):
    register(_released_code(_spec))

# The rows of the paper's tables that the zoo has (sbrzoo reproduce / ablation defaults).
TABLE_I_MODELS = ("gru4rec", "narm", "stamp", "repeatnet", "csrm", "srgnn", "gcsan", "tagnn", "lessr", "tagnnpp")
TABLE_II_MODELS = ("tagnnpp", *(spec.name for spec in TABLE_II))

# -- non-neural baselines, fitted by counting (sbrzoo/models/neighbourhood; issue 16) --------------------
# Settings: defaults and per-dataset values with their sources in sbrzoo/models/neighbourhood/presets.py.
from sbrzoo.models.neighbourhood.presets import DEFAULTS as _COUNTING  # noqa: E402 - torch-free

_NB = "sbrzoo.models.neighbourhood"
_UMUAI = "Ludewig & Jannach, Evaluation of Session-based Recommendation Algorithms, UMUAI 2018, arXiv:1803.09587"
register(ModelSpec(
    "spop", "S-POP", "S-POP: the session's own items by clicks in it, then global popularity", "spop",
    model_class=f"{_NB}.item_based:SessionPop", own_settings=_COUNTING["spop"],
    paper="Hidasi et al., Session-based Recommendations with Recurrent Neural Networks, ICLR 2016 (S-POP baseline)",
    reference={"diginetica": {"HR@20": 21.06, "MRR@20": 13.68}, "yoochoose1_64": {"HR@20": 30.44, "MRR@20": 18.35}},
))
register(ModelSpec(
    "itemknn", "Item-KNN", "Item-kNN: items co-occurring with the last click in training sessions", "itemknn",
    model_class=f"{_NB}.item_based:ItemKNN", own_settings=_COUNTING["itemknn"],
    paper="Sarwar et al., Item-based Collaborative Filtering Recommendation Algorithms, WWW 2001",
    reference={"diginetica": {"HR@20": 35.75, "MRR@20": 11.57}, "yoochoose1_64": {"HR@20": 51.60, "MRR@20": 21.81}},
))
register(ModelSpec(
    "sknn", "SKNN", "SKNN: items of the k most similar recent training sessions (cosine)", "sknn",
    model_class=f"{_NB}.session_knn:SKNN", own_settings=_COUNTING["sknn"],
    paper="Jannach & Ludewig, When Recurrent Neural Networks meet the Neighborhood for Session-Based "
          "Recommendation, RecSys 2017",
))
register(ModelSpec(
    "vsknn", "V-SKNN", "V-SKNN: SKNN with position-decayed weights of the session's clicks", "vsknn",
    model_class=f"{_NB}.session_knn:VSKNN", own_settings=_COUNTING["vsknn"], paper=_UMUAI,
))
register(ModelSpec(
    "stan", "STAN", "STAN: SKNN with decays for click position, neighbour recency, item distance", "stan",
    model_class=f"{_NB}.session_knn:STAN", own_settings=_COUNTING["stan"],
    paper="Garg et al., Sequence and Time Aware Neighborhood for Session-based Recommendations, SIGIR 2019",
))
register(ModelSpec(
    "vstan", "V-STAN", "V-STAN: STAN with V-SKNN's decay of the most recent shared click and IDF boost", "vstan",
    model_class=f"{_NB}.session_knn:VSTAN", own_settings=_COUNTING["vstan"],
    paper="Ludewig, Latifi & Jannach, Empirical Analysis of Session-Based Recommendation Algorithms, UMUAI 2021",
))
register(ModelSpec(
    "sr", "SR", "SR: sequential rules from the last click to the items that followed it", "sr",
    model_class=f"{_NB}.item_based:SequentialRules", own_settings=_COUNTING["sr"],
    paper="Kamehkhosh et al., A Comparison of Frequent Pattern Techniques and a Deep Learning Method "
          "for Session-Based Recommendation, TempRec@RecSys 2017",
))
