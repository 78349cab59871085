"""Where an image INR dataset keeps its class signal: in the function, in the weights, or in neither.

When every weight-space learner sits far below its paper on an nfbench build, the build
itself is the first suspect. This measures, on one built image dataset (2-D fields):

- a linear probe on the pixels decoded from the INRs (the function holds the digits: the
  labels and the fits are sound);
- a linear probe on per-tensor weight statistics (what ``stats`` reads) and on the same
  statistics of each INR's displacement from its own init (is the signal hidden by the
  random start?), for builds with ``--init independent``, whose inits are re-drawn;
- how far each parameter tensor moved from its init during the fit (median relative norm).

    python -m nfbench.bench.weight_signal --dataset mnist-limittrain550-initindependent
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from nfbench.decode import field_fn
from nfbench.decode.image import field_to_image
from nfbench.fields import Params
from nfbench.fields.init import independent_inits
from nfbench.fitting.build import int_seed
from nfbench.methods.weight_baselines import weight_statistics
from nfbench.paths import resolve_dataset_dir
from nfbench.store.reader import INRDataset
from nfbench.views.context import SplitReader


def _sample(data: INRDataset, split: str, n: int) -> tuple[SplitReader, torch.Tensor]:
    reader = SplitReader(data, split)
    return reader, torch.randperm(len(reader), generator=torch.Generator().manual_seed(0))[:n]


def _pixels(data: INRDataset, params: Params, side: int) -> np.ndarray:
    n = next(iter(params.values())).shape[0]
    with torch.no_grad():
        return field_to_image(field_fn(data.spec, params), n, side, side, data.spec.out_dim).flatten(1).numpy()


def _probe(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray) -> float:
    mu, sd = train.mean(0), train.std(0) + 1e-8
    clf = LogisticRegression(max_iter=1000).fit((train - mu) / sd, y_train)
    return float((clf.predict((test - mu) / sd) == y_test).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="built image dataset (name under NFBENCH_HOME or directory)")
    parser.add_argument("--train", type=int, default=5000, help="train INRs sampled for the probes")
    parser.add_argument("--test", type=int, default=2000, help="test INRs sampled for the probes")
    parser.add_argument("--side", type=int, default=28, help="pixels per side of the decoded images (MNIST: 28)")
    args = parser.parse_args(argv)
    path = Path(args.dataset)
    data = INRDataset.open(path if path.exists() else resolve_dataset_dir(args.dataset))
    if data.spec.in_dim != 2:
        raise SystemExit(f"{args.dataset}: weight_signal probes image INRs (2-D fields), not {data.spec.in_dim}-D ones")
    torch.set_num_threads(1)
    (train, i_tr), (test, i_te) = _sample(data, "train", args.train), _sample(data, "test", args.test)
    p_tr, p_te = train.params(i_tr), test.params(i_te)
    y_tr, y_te = train.labels[i_tr].numpy(), test.labels[i_te].numpy()
    rows = [
        ("linear probe on decoded pixels", _probe(_pixels(data, p_tr, args.side), y_tr, _pixels(data, p_te, args.side), y_te)),
        ("linear probe on weight statistics", _probe(weight_statistics(data.spec, p_tr).numpy(), y_tr, weight_statistics(data.spec, p_te).numpy(), y_te)),
    ]
    print(f"{data.meta.name}: {len(i_tr)} train / {len(i_te)} test INRs sampled, {data.spec.describe()}")
    if data.meta.build.fit.init == "independent":
        seed = data.meta.build.seed

        def inits(reader: SplitReader, idx: torch.Tensor) -> Params:
            keys = [int_seed(seed, "init", reader.keys[i]) for i in idx.tolist()]
            return independent_inits(data.spec, keys, data.meta.build.fit.init_scheme)

        q_tr, q_te = inits(train, i_tr), inits(test, i_te)
        d_tr = weight_statistics(data.spec, {k: p_tr[k] - q_tr[k] for k in p_tr}).numpy()
        d_te = weight_statistics(data.spec, {k: p_te[k] - q_te[k] for k in p_te}).numpy()
        rows.append(("linear probe on statistics of (weights - own init)", _probe(d_tr, y_tr, d_te, y_te)))
        for name in data.spec.param_names():
            start = q_tr[name].flatten(1).norm(dim=1)
            moved = (p_tr[name] - q_tr[name]).flatten(1).norm(dim=1)
            if bool((start > 0).all()):
                print(f"  {name}: median |theta - theta0| / |theta0| = {float((moved / start).median()):.3f}")
            else:  # a zero init (dwsnet biases): only the distance travelled means anything
                print(f"  {name}: starts at 0; median |theta| = {float(moved.median()):.3f}")
    for what, acc in rows:
        print(f"  {what}: test accuracy {100 * acc:.1f} %")


if __name__ == "__main__":
    main()
