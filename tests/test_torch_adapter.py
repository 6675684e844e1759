"""The torch adapter (ntkdistill.torch): VGG shapes, losses, early stopping, saving and loading."""

import os
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch adapter needs PyTorch (the 'torch' extra)")

from ntkdistill import kl_loss, logistic_loss
from ntkdistill.torch import (
    VGG,
    accuracy,
    distillation_loss,
    fit,
    hard_label_loss,
    load_model,
    predict_logits,
    save_model,
    vgg_student,
    vgg_teacher,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: the tiny models here gain nothing from more, and shared cores lose a lot."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def _count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


# ------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "in_channels, size, teacher_map, student_map",
    [(3, 32, (512, 1, 1), (128, 8, 8)), (1, 28, (512, 1, 1), (128, 7, 7))],
)
def test_full_width_shapes_and_layer_counts(in_channels, size, teacher_map, student_map):
    x = torch.zeros(2, in_channels, size, size)
    teacher = vgg_teacher(in_channels=in_channels, image_size=size, rng=0)
    student = vgg_student(in_channels=in_channels, image_size=size, rng=0)
    assert teacher(x).shape == (2, 2) and student(x).shape == (2, 2)
    assert teacher.feature_shape == teacher_map and student.feature_shape == student_map
    # VGG 8+3: eight convolutions and three fully connected layers; VGG 2+3: two and three
    assert (_count(teacher, torch.nn.Conv2d), _count(teacher, torch.nn.Linear)) == (8, 3)
    assert (_count(student, torch.nn.Conv2d), _count(student, torch.nn.Linear)) == (2, 3)
    widths = [m.out_channels for m in teacher.modules() if isinstance(m, torch.nn.Conv2d)]
    assert widths == [64, 128, 256, 256, 512, 512, 512, 512]
    assert [m.out_channels for m in student.modules() if isinstance(m, torch.nn.Conv2d)] == [64, 128]
    assert student.classifier[1].in_features == 128 * student_map[1] * student_map[2]
    assert student.classifier[1].out_features == 512


def test_width_multiplier_and_classes():
    net = vgg_student(in_channels=1, image_size=28, width=0.125, num_classes=3, rng=0)
    assert [m.out_channels for m in net.modules() if isinstance(m, torch.nn.Conv2d)] == [8, 16]
    assert net.classifier[1].out_features == 64
    assert net(torch.zeros(4, 1, 28, 28)).shape == (4, 3)
    small = vgg_teacher(in_channels=1, image_size=(8, 6), width=0.0625, hidden=5, batch_norm=True, rng=0)
    assert small(torch.zeros(3, 1, 8, 6)).shape == (3, 2)
    assert small.feature_shape == (32, 1, 1) and small.classifier[1].out_features == 5
    assert _count(small, torch.nn.BatchNorm2d) == 8


def test_initialisation_follows_rng():
    a, b, c = (vgg_student(width=0.0625, rng=s) for s in (1, 1, 2))
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(config="vgg11"), ValueError, "config == 'vgg11'"),
        (dict(config=[64, "X"]), ValueError, "config =="),
        (dict(width=0.0), ValueError, r"width == 0, must lie in \(0, inf\)"),
        (dict(in_channels=0), ValueError, "in_channels == 0, must be >= 1"),
        (dict(image_size="big"), TypeError, "image_size must be an int or a pair"),
        (dict(num_classes=1), ValueError, "num_classes == 1, must be >= 2"),
        (dict(dropout=1.0), ValueError, r"dropout == 1, must lie in \[0, 1\)"),
    ],
)
def test_model_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        VGG(**kwargs)


# ------------------------------------------------------------------------------------------------
# losses
# ------------------------------------------------------------------------------------------------


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("tau, alpha", [(1.0, 0.0), (2.5, 0.0), (3.0, 0.4), (0.5, 1.0)])
def test_distillation_loss_matches_direct_formula(tau, alpha):
    rng = np.random.default_rng(0)
    s = rng.normal(size=(7, 4)) * 2
    t = rng.normal(size=(7, 4)) * 2
    y = rng.integers(0, 4, size=7)
    q, r = _softmax(t / tau), _softmax(s / tau)
    kl = (q * np.log(q / r)).sum(axis=1)
    ce = -np.log(_softmax(s)[np.arange(7), y])
    expected = np.mean(alpha * ce + (1 - alpha) * tau**2 * kl)
    got = distillation_loss(torch.tensor(s), torch.tensor(t), torch.tensor(y), tau=tau, alpha=alpha)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(float(got), expected, rtol=1e-12)


def test_binary_distillation_is_the_theory_kl_loss():
    # two classes, tau = 1, alpha = 0: l_KL(p, f) with p = mu(t1 - t0), f = s1 - s0
    rng = np.random.default_rng(1)
    s, t = rng.normal(size=(9, 2)) * 3, rng.normal(size=(9, 2)) * 3
    p = 1 / (1 + np.exp(-(t[:, 1] - t[:, 0])))
    expected = np.mean(kl_loss(p, s[:, 1] - s[:, 0]))
    np.testing.assert_allclose(float(distillation_loss(torch.tensor(s), torch.tensor(t))), expected, rtol=1e-12)


def test_binary_hard_loss_is_the_logistic_loss():
    rng = np.random.default_rng(2)
    s = rng.normal(size=(9, 2)) * 3
    c = rng.integers(0, 2, size=9)
    expected = np.mean(logistic_loss(2.0 * c - 1, s[:, 1] - s[:, 0]))
    np.testing.assert_allclose(float(hard_label_loss(torch.tensor(s), torch.tensor(c))), expected, rtol=1e-12)


def test_distillation_gradient():
    # d loss / d s = [(1 - alpha) tau (softmax(s/tau) - softmax(t/tau)) + alpha (softmax(s) - onehot)] / N
    rng = np.random.default_rng(3)
    tau, alpha = 2.0, 0.3
    s = torch.tensor(rng.normal(size=(5, 3)), requires_grad=True)
    t = torch.tensor(rng.normal(size=(5, 3)))
    y = torch.tensor([0, 2, 1, 1, 0])
    distillation_loss(s, t, y, tau=tau, alpha=alpha).backward()
    sn, tn = s.detach().numpy(), t.numpy()
    onehot = np.eye(3)[y.numpy()]
    expected = ((1 - alpha) * tau * (_softmax(sn / tau) - _softmax(tn / tau)) + alpha * (_softmax(sn) - onehot)) / 5
    np.testing.assert_allclose(s.grad.numpy(), expected, rtol=1e-10, atol=1e-14)


def test_losses_reject_bad_arguments():
    s, t = torch.zeros(3, 2), torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"tau == 0, must lie in \(0, inf\)"):
        distillation_loss(s, t, tau=0.0)
    with pytest.raises(ValueError, match=r"alpha == 1.5, must lie in \[0, 1\]"):
        distillation_loss(s, t, alpha=1.5)
    with pytest.raises(ValueError, match="labels are required"):
        distillation_loss(s, t, alpha=0.5)
    with pytest.raises(ValueError, match=r"teacher_logits has shape \(3, 3\)"):
        distillation_loss(s, torch.zeros(3, 3))
    with pytest.raises(TypeError, match="integer class indices"):
        hard_label_loss(s, torch.zeros(3))
    with pytest.raises(ValueError, match="2-D floating-point tensor"):
        hard_label_loss(torch.zeros(3), torch.zeros(3, dtype=torch.long))


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------


def _toy(n, seed, *, random_labels=False):
    """Bright (class 1) against dark (class 0) 1x8x8 images, with pixel noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = 0.5 + 0.2 * (2 * y[:, None, None, None] - 1) + 0.15 * rng.standard_normal((n, 1, 8, 8))
    if random_labels:
        y = rng.integers(0, 2, size=n)
    return X.astype(np.float32), y


def _tiny(seed=0):
    return vgg_student(in_channels=1, image_size=8, width=0.0625, hidden=8, dropout=0.0, rng=seed)


def test_fit_learns_an_easy_task():
    X, y = _toy(96, 0)
    Xv, yv = _toy(48, 1)
    net = _tiny()
    res = fit(
        net, X, y, Xv, yv, lr=1e-2, weight_decay=0.0, batch_size=16, max_epochs=15, patience=15, device="cpu", rng=0
    )
    # the classes differ by 0.4 in mean brightness, 2.7 pixel-noise sd: a linear rule separates them
    assert res.best_val_accuracy >= 0.9
    assert accuracy(net, Xv, yv, device="cpu") == res.best_val_accuracy
    assert res.loss == "hard" and res.train_loss[-1] < res.train_loss[0]


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = _toy(64, 2)
    Xv, yv = _toy(40, 3, random_labels=True)  # nothing to learn on validation: accuracy wanders
    net = _tiny(1)
    snapshots = {}

    def keep(epoch, model, acc):
        snapshots[epoch] = ({k: v.clone() for k, v in model.state_dict().items()}, acc)

    patience = 3
    res = fit(
        net,
        X,
        y,
        Xv,
        yv,
        lr=3e-2,
        weight_decay=0.0,
        batch_size=8,
        max_epochs=40,
        patience=patience,
        device="cpu",
        rng=0,
        callback=keep,
    )
    assert res.stopped_early and res.epochs < 40
    assert res.epochs == res.best_epoch + patience
    assert len(res.val_accuracy) == res.epochs == len(snapshots)
    assert res.best_val_accuracy == max(res.val_accuracy)
    assert res.best_epoch == 1 + int(np.argmax(res.val_accuracy))  # first epoch with the best accuracy
    best_state = snapshots[res.best_epoch][0]
    for k, v in net.state_dict().items():
        assert torch.equal(v, best_state[k]), k
    last_state = snapshots[res.epochs][0]
    assert not all(torch.equal(net.state_dict()[k], last_state[k]) for k in last_state)
    assert accuracy(net, Xv, yv, device="cpu") == res.best_val_accuracy


def test_fit_is_reproducible_and_soft_training_runs():
    X, y = _toy(48, 4)
    teacher_logits = torch.tensor(np.stack([np.zeros(48), 4.0 * (2 * y - 1)], axis=1), dtype=torch.float32)
    out = []
    for _ in range(2):
        net = _tiny(5)
        res = fit(
            net,
            X,
            y,
            X,
            y,
            teacher_logits=teacher_logits,
            lr=1e-2,
            batch_size=16,
            max_epochs=4,
            patience=4,
            device="cpu",
            rng=7,
        )
        out.append((net, res))
    assert out[0][1].loss == "soft"
    assert out[0][1].val_accuracy == out[1][1].val_accuracy
    for pa, pb in zip(out[0][0].parameters(), out[1][0].parameters()):
        assert torch.equal(pa, pb)


def test_fit_restores_global_torch_rng():
    X, y = _toy(16, 5)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    fit(_tiny(), X, y, X, y, max_epochs=1, device="cpu", rng=0)
    assert torch.equal(torch.rand(3), before)


def test_fit_rejects_bad_arguments():
    X, y = _toy(16, 6)
    net = _tiny()
    with pytest.raises(ValueError, match=r"y must hold class indices in 0..1, got -1"):
        fit(net, X, 2 * y - 1, X, y, device="cpu")
    with pytest.raises(ValueError, match=r"teacher_logits must have shape \(16, 2\)"):
        fit(net, X, y, X, y, teacher_logits=torch.zeros(15, 2), device="cpu")
    with pytest.raises(ValueError, match="X must be a 4-D array of images"):
        fit(net, X.reshape(16, -1), y, X, y, device="cpu")
    with pytest.raises(ValueError, match="patience == 0, must be >= 1"):
        fit(net, X, y, X, y, patience=0, device="cpu")
    with pytest.raises(ValueError, match=r"lr == -1, must lie in \(0, inf\)"):
        fit(net, X, y, X, y, lr=-1.0, device="cpu")
    with pytest.raises(ValueError, match="device == 'tpu'"):
        fit(net, X, y, X, y, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            fit(net, X, y, X, y, device="cuda")


def test_predict_logits_is_batched_consistently():
    X, _ = _toy(10, 7)
    net = _tiny()
    a = predict_logits(net, X, batch_size=3, device="cpu")
    b = predict_logits(net, X, batch_size=100, device="cpu")
    assert a.shape == (10, 2)
    torch.testing.assert_close(a, b)


# ------------------------------------------------------------------------------------------------
# saving and loading
# ------------------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    net = vgg_teacher(in_channels=1, image_size=12, width=0.0625, hidden=7, batch_norm=True, rng=3)
    X, y = _toy(16, 8)
    X = np.pad(X, ((0, 0), (0, 0), (2, 2), (2, 2)))
    fit(net, X, y, X, y, max_epochs=1, device="cpu", rng=0)  # non-trivial BatchNorm statistics
    path = tmp_path / "teacher.pt"
    save_model(net, path)
    loaded = load_model(path)
    assert loaded.arch == net.arch
    for (k, v), (k2, v2) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    torch.testing.assert_close(predict_logits(loaded, X, device="cpu"), predict_logits(net, X, device="cpu"))
    # the file is readable with weights_only=True directly
    blob = torch.load(path, weights_only=True)
    assert set(blob) == {"format", "arch", "state_dict"}


class _Planted:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_load_refuses_planted_and_foreign_files(tmp_path):
    marker = str(tmp_path / "ran")
    bad = tmp_path / "planted.pt"
    with open(bad, "wb") as fh:
        pickle.dump({"format": "ntkdistill.torch.VGG/1", "arch": {}, "state_dict": _Planted(marker)}, fh, protocol=2)
    with pytest.raises(ValueError, match="weights_only=True refused it"):
        load_model(bad)
    assert not os.path.exists(marker)
    foreign = tmp_path / "state.pt"
    torch.save(_tiny().state_dict(), foreign)
    with pytest.raises(ValueError, match="is not a network saved by ntkdistill.torch.save_model"):
        load_model(foreign)
    with pytest.raises(FileNotFoundError, match="no saved network at"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="must be an ntkdistill.torch.VGG"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "x.pt")
