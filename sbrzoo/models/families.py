"""Every registered model, one line each: base compositions and the TAGNN++ ablation rows (Table II)."""

from __future__ import annotations

from dataclasses import replace

from sbrzoo.models._registry import ModelSpec, register

__all__: list[str] = []

register(ModelSpec(
    "pop", "pop", "Most popular items in training (the trivial baseline)",
    graph_encoder=None, readout="none", trainable=False,
))

SRGNN = register(ModelSpec(
    "srgnn", "srgnn", "SR-GNN: gated GNN + soft-attention readout with the last click",
    paper="Wu et al., Session-based Recommendation with Graph Neural Networks, AAAI 2019, arXiv:1811.00855",
    reference={"diginetica": {"HR@20": 50.73, "MRR@20": 17.59}, "yoochoose1_64": {"HR@20": 70.57, "MRR@20": 30.94}},
))

TAGNN = register(replace(
    SRGNN, name="tagnn", family="tagnn", attention_softmax=True, scorer="target_attention",
    description="TAGNN: SR-GNN + target attention over the clicks for every candidate",
    paper="Yu et al., TAGNN: Target Attentive Graph Neural Networks for Session-based Recommendation, SIGIR 2020",
    reference={"diginetica": {"HR@20": 51.31, "MRR@20": 18.03}, "yoochoose1_64": {"HR@20": 71.02, "MRR@20": 31.12}},
))

TAGNNPP = register(replace(
    TAGNN, name="tagnnpp", family="tagnnpp", positional=True, transformer=True, agc=True,
    description="TAGNN++: TAGNN + positional embedding + Transformer block, trained with AGC",
    paper="Mitheran et al., Introducing Self-Attention to Target Attentive Graph Neural Networks, arXiv:2107.01516",
    reference={"diginetica": {"HR@20": 51.86, "MRR@20": 17.93}, "yoochoose1_64": {"HR@20": 71.91, "MRR@20": 31.57}},
))

# Table II: each row removes exactly one part of TAGNN++.
register(replace(TAGNNPP, name="tagnnpp_no_agc", agc=False, description="TAGNN++ without AGC",
                 reference={"diginetica": {"HR@20": 51.57, "MRR@20": 17.65}, "yoochoose1_64": {"HR@20": 71.80, "MRR@20": 31.41}}))
register(replace(TAGNNPP, name="tagnnpp_no_gnn", graph_encoder=None, description="TAGNN++ without the GNN",
                 reference={"diginetica": {"HR@20": 51.48, "MRR@20": 17.59}, "yoochoose1_64": {"HR@20": 71.75, "MRR@20": 31.62}}))
register(replace(TAGNNPP, name="tagnnpp_no_pe", positional=False, description="TAGNN++ without the positional embedding",
                 reference={"diginetica": {"HR@20": 51.64, "MRR@20": 17.66}, "yoochoose1_64": {"HR@20": 71.69, "MRR@20": 31.48}}))
# The positional embedding is added to the Transformer's input (docs/MODELS.md §3.4c), so it leaves with the block:
# what remains is exactly TAGNN's computation, trained with TAGNN++'s settings and AGC.
register(replace(TAGNNPP, name="tagnnpp_no_transformer", transformer=False, positional=False,
                 description="TAGNN++ without the Transformer (and its positional input)",
                 reference={"diginetica": {"HR@20": 51.42, "MRR@20": 17.84}, "yoochoose1_64": {"HR@20": 71.03, "MRR@20": 30.69}}))

register(ModelSpec(
    "lessr", "lessr", "LESSR: EOPA and SGAT layers over edge-order-preserving and shortcut graphs",
    graph_encoder="lessr", readout="lessr",
    paper="Chen & Wong, Handling Information Loss of Graph Neural Networks for Session-based Recommendation, KDD 2020",
    reference={"diginetica": {"HR@20": 51.71, "MRR@20": 18.15}, "yoochoose1_64": {"HR@20": 70.64, "MRR@20": 30.97}},
))
