"""`class-agreement` and `icp`: known answers with hand-built models, the cached classifier."""

from __future__ import annotations

import json
import math

import pytest
import torch
from image_helpers import Constant, Identity, NoConfig

from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.packaged import digits
from genzoo.data.toy import grid25
from genzoo.evaluators import label_classifier
from genzoo.evaluators.classes import (
    ClassAgreement,
    ClassifierScore,
    class_shares,
    icp,
    labelled_heldout,
)
from genzoo.testing import check_evaluator


@pytest.fixture(scope="module")
def data():
    return digits()


@pytest.fixture(scope="module")
def classifier(data, tmp_path_factory):
    home = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENZOO_CACHE", str(home))
        yield label_classifier.for_dataset(data)


@pytest.fixture(autouse=True)
def _cache(classifier, monkeypatch):
    # every test reads the module's one fitted classifier from its cache file
    monkeypatch.setenv("GENZOO_CACHE", str(classifier.path.parents[1]))


class Replay(Model):
    """Samples the test split's images in order, from the first, on every call (a perfect,
    label-balanced "generator" when one call takes them all), or
    one fixed image when ``constant``."""

    name = "replay"
    Config = NoConfig
    capabilities = frozenset({"sample"})
    vectorized = True
    constant = False

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        x, _ = digits().examples("test")
        x = x.float() / 255.0
        picked = x[:1].expand(n, *x.shape[1:]) if self.constant else x[torch.arange(n) % len(x)]
        return picked.unsqueeze(0).expand(self.replicas, *picked.shape).clone()


class ReplayOne(Replay):
    name = "replay-one"
    constant = True


def test_the_classifier_is_accurate_and_cached(data, classifier) -> None:
    assert classifier.accuracy > 0.9  # 8×8 digits: an easy task even for a few epochs
    assert classifier.path is not None and classifier.path.is_file()
    again = label_classifier.for_dataset(data)  # read back, not refitted
    assert again.path == classifier.path and again.accuracy == classifier.accuracy
    x, _ = labelled_heldout(data, 100)
    assert torch.equal(again.predict(x), classifier.predict(x))


def test_the_classifier_fits_inside_no_grad_as_evaluate_runs_it(data, tmp_path,
                                                                 monkeypatch) -> None:
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    monkeypatch.setattr(label_classifier, "STEPS", 10)
    monkeypatch.setattr(label_classifier, "EPOCHS", 1)
    with torch.no_grad():
        clf = label_classifier.for_dataset(data)
    assert clf.path is not None and clf.path.is_file()


def test_identity_reconstruction_scores_the_classifier_own_accuracy(data, classifier) -> None:
    model = Identity(NoConfig(), data.spec, [0, 1])
    result = check_evaluator(ClassAgreement, model, data, options={"heldout": 10_000})
    # the whole test split, reconstructed exactly: agreement is the classifier's accuracy
    assert result.metrics["class_agreement"] == pytest.approx([classifier.accuracy] * 2)
    assert result.metrics["classifier_accuracy"] == [classifier.accuracy] * 2


def test_a_constant_reconstruction_scores_one_class_share(data, classifier) -> None:
    model = Constant(NoConfig(), data.spec, [0])
    x, y = labelled_heldout(data, 200)
    grey = torch.full((1, *data.spec.x_shape), 0.4)
    predicted = int(classifier.predict(grey)[0])
    result = ClassAgreement(heldout=200).evaluate(model, data)
    assert result.metrics["class_agreement"][0] == pytest.approx(
        float((y == predicted).double().mean()))


def test_icp_on_known_distributions() -> None:
    k = 10
    one_hot = torch.eye(k).repeat(5, 1)  # balanced and certain: ICP = K
    assert icp(one_hot) == pytest.approx(k)
    assert icp(torch.eye(k)[[3] * 50]) == pytest.approx(1.0)  # one class only
    assert icp(torch.full((40, k), 1.0 / k)) == pytest.approx(1.0)  # certain of nothing
    # two balanced classes, each predicted with confidence 0.9 over the pair
    p = torch.tensor([[0.9, 0.1], [0.1, 0.9]]).repeat(10, 1)
    kl = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert icp(p) == pytest.approx(math.exp(kl))
    assert class_shares(torch.tensor([0, 0, 1, 3]), 4).tolist() == [0.5, 0.25, 0, 0.25]


def test_icp_of_real_images_and_of_one_image(data, classifier, tmp_path) -> None:
    n = len(data.examples("test")[0])
    real = check_evaluator(ClassifierScore, Replay(NoConfig(), data.spec, [0]), data,
                           options={"samples": n, "heldout": n, "chunk": n})
    m = real.metrics
    assert m["icp"][0] == pytest.approx(m["icp_real"][0], rel=1e-6)  # the same images
    assert m["icp"][0] > 8  # ten balanced classes, confidently classified
    assert 0.05 < m["class_share_min"][0] <= 0.1 <= m["class_share_max"][0] < 0.15
    one = ClassifierScore(samples=300).evaluate(ReplayOne(NoConfig(), data.spec, [0]), data,
                                                out_dir=tmp_path)
    assert one.metrics["icp"][0] == pytest.approx(1.0)
    assert one.metrics["class_share_max"][0] == 1.0 and one.metrics["class_share_min"][0] == 0
    histogram = json.loads((tmp_path / "class-histogram.json").read_text())
    assert sum(histogram["seeds"]["0"]) == pytest.approx(1.0)
    assert max(histogram["seeds"]["0"]) == 1.0


def test_datasets_without_labels_are_refused_with_a_reason(data) -> None:
    toy = grid25()
    for cls in (ClassAgreement, ClassifierScore):
        reason = cls().applies_to(toy)
        assert reason is not None and "image" in reason
    with pytest.raises(GenzooError, match="class labels"):
        label_classifier.for_dataset(toy)
