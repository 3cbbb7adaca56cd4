"""The static student trained model2vec's own way, against the pipeline's refinement (``S``): model2vec's
``StaticModelForSimilarity`` (its tokenlearn recipe's trainer) starts from the run's static table, learns a weight
per token beside the vectors and a head from the pooled vector to the teacher's embedding (a linear map, or an MLP
with ``n_layers`` hidden layers) with a cosine loss, stops early on the held-out sentences' loss, and keeps the
table without its head (the head is dropped: the pooled vector must serve alone). ``pca_targets`` reduces the
targets with PCA first, as tokenlearn does. The table is scored as the evaluate stage scores STSb (dev and test,
cosine); one JSON line per run is appended to ``--out``.

Run it in a finished run whose static students were built (``dvc repro student@S student@S0``: the table under
``.work/static-tables/``, the prepared corpus, the teacher's embeddings):

    cd RUN && PYTHONPATH=/path/to/checkout python -P -m bench.static_model2vec \\
        --config '{"n_layers": 0, "learning_rate": 0.01}' --out static.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from model2vec import StaticModel
from model2vec.train import StaticModelForSimilarity
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
from sklearn.decomposition import PCA

from bench.recipe_ablation import stsb_spearman
from sentence_distill.data.corpus import corpus_sentences
from sentence_distill.models import open_teacher_cache
from sentence_distill.paths import STATIC_TABLES_DIR

DEFAULTS = {
    "n_layers": 1,  # model2vec's default head: one hidden layer of 512
    "hidden_dim": 512,
    "learning_rate": 1e-3,
    "batch_size": None,  # model2vec's choice: a multiple of 32 by the corpus size
    "max_epochs": -1,  # until early stopping
    "patience": 5,
    "pca_targets": None,
    "train_sentences": None,
    "seed": 42,
}


def stsb_scores(table: StaticEmbedding) -> dict[str, float]:
    model = SentenceTransformer(modules=[table, Normalize()], device="cpu")
    return {split: round(100 * stsb_spearman(model, split), 2) for split in ("dev", "test")}


def train(table: StaticEmbedding, config: dict) -> StaticEmbedding:
    """The table trained by model2vec's ``StaticModelForSimilarity`` on the run's corpus and teacher targets."""
    texts, heldout = corpus_sentences("train"), corpus_sentences("heldout")
    texts = texts[: config["train_sentences"]] if config["train_sentences"] else texts
    cache = open_teacher_cache()
    targets, heldout_targets = cache.lookup(texts), cache.lookup(heldout)
    if config["pca_targets"]:
        pca = PCA(n_components=config["pca_targets"], random_state=config["seed"]).fit(targets)
        targets, heldout_targets = (pca.transform(x).astype(np.float32) for x in (targets, heldout_targets))
    vectors = table.embedding.weight.detach().numpy().copy()
    model = StaticModelForSimilarity.from_static_model(
        model=StaticModel(vectors=vectors, tokenizer=table.tokenizer, normalize=True),
        n_layers=config["n_layers"],
        hidden_dim=config["hidden_dim"],
    )
    model.fit(
        texts,
        torch.from_numpy(targets),
        X_val=heldout,
        y_val=torch.from_numpy(heldout_targets),
        learning_rate=config["learning_rate"],
        batch_size=config["batch_size"],
        max_epochs=config["max_epochs"],
        early_stopping_patience=config["patience"],
        device="cpu",
        random_seed=config["seed"],
    )
    trained = np.asarray(model.to_static_model().embedding, dtype=np.float32)  # token weights folded in
    return StaticEmbedding(table.tokenizer, embedding_weights=trained)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="{}", help="JSON over the defaults: " + json.dumps(DEFAULTS))
    parser.add_argument("--out", type=Path, required=True, help="JSON lines file to append the result to")
    parser.add_argument("--baseline", action="store_true", help="score the table as distilled (S0) and models/S")
    args = parser.parse_args()
    table_dir = next(path for path in sorted(STATIC_TABLES_DIR.iterdir()) if path.is_dir())
    table = StaticEmbedding.load(str(table_dir))
    if args.baseline:
        result = {"S0": stsb_scores(table), "S": stsb_scores(SentenceTransformer("models/S/student", device="cpu")[0])}
    else:
        config = {**DEFAULTS, **json.loads(args.config)}
        start = time.perf_counter()
        trained = train(table, config)
        result = {"config": config, "train_s": round(time.perf_counter() - start, 1), **stsb_scores(trained)}
    print(json.dumps(result))
    with args.out.open("a") as out:
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
