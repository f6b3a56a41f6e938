"""Module machinery against torch.nn.Module: registration and PyTorch's names, state_dict,
modes, gradient accumulation, default init, dtypes, errors, repr.

Test names avoid the word "conv": the conv/pool owners run the rest with -k "not conv".
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_reference import DTYPES, assert_close, compare_with_torch, torch_dtype

import minicnn as mc
from minicnn import nn


def dtype_option(lib, dtype):
    """dtype= for a layer of ``lib``: the NumPy dtype for minicnn, its torch twin for torch."""
    return {"dtype": torch_dtype(dtype) if lib is torch.nn else np.dtype(dtype)}


def small_net(lib, dtype=np.float32):
    """A LeNet-like stack: (N, 1, 8, 8) -> (N, 5)."""
    options = dtype_option(lib, dtype)
    return lib.Sequential(
        lib.Conv2d(1, 4, 3, **options), lib.ReLU(), lib.MaxPool2d(2),
        lib.Flatten(), lib.Dropout(0.5), lib.Linear(4 * 3 * 3, 5, **options),
    )


def nested_net(lib, dtype=np.float32):
    options = dtype_option(lib, dtype)
    return lib.Sequential(
        lib.Sequential(lib.Conv2d(1, 2, 3, padding=1, **options), lib.Tanh()),
        lib.Flatten(),
        lib.Sequential(lib.Linear(2 * 4 * 4, 6, **options), lib.ReLU(), lib.Dropout(0.25)),
        lib.Linear(6, 3, bias=False, **options),
        lib.LogSoftmax(dim=1),
    )


def custom_net(lib, dtype=np.float32):
    """A user's Module subclass with attributes, the same class name in both libraries."""
    options = dtype_option(lib, dtype)

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.conv = lib.Conv2d(2, 3, 3, bias=False, **options)
            self.act = lib.ReLU()
            self.flat = lib.Flatten()
            self.fc = lib.Linear(3 * 2 * 2, 2, **options)
            self.scale = 2.0  # a plain attribute is no child and no parameter

        def forward(self, x):
            return self.fc(self.flat(self.act(self.conv(x)))) * self.scale

        def backward(self, grad_output):
            grad = self.fc.backward(grad_output * self.scale)
            return self.conv.backward(self.act.backward(self.flat.backward(grad)))

    return Net()


def tied_net(lib):
    """A shared child and a shared parameter (weight tying)."""

    class Tied(lib.Module):
        def __init__(self):
            super().__init__()
            self.a = lib.Linear(3, 3)
            self.b = self.a
            self.c = lib.Linear(3, 3)
            self.c.weight = self.a.weight

    return Tied()


ARCHITECTURES = [small_net, nested_net, custom_net, tied_net]
INPUT_SHAPES = {small_net: (2, 1, 8, 8), nested_net: (2, 1, 4, 4), custom_net: (2, 2, 4, 4)}
ARCH_IDS = ["small", "nested", "custom", "tied"]


def names(pairs):
    return [name for name, _ in pairs]


def types(modules):
    return [type(m).__name__ for m in modules]


def torch_state(model):
    return {key: torch.from_numpy(value) for key, value in model.state_dict().items()}


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ARCHITECTURES, ids=ARCH_IDS)
def test_traversal_names_match_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert names(ours.named_parameters()) == names(theirs.named_parameters())
    assert names(ours.named_parameters(remove_duplicate=False)) == names(
        theirs.named_parameters(remove_duplicate=False)
    )
    assert names(ours.named_parameters(prefix="m")) == names(theirs.named_parameters(prefix="m"))
    assert names(ours.named_parameters(recurse=False)) == names(
        theirs.named_parameters(recurse=False)
    )
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert names(ours.named_children()) == names(theirs.named_children())
    assert types(ours.children()) == types(theirs.children())
    assert names(ours.named_modules()) == names(theirs.named_modules())
    assert names(ours.named_modules(prefix="m", remove_duplicate=False)) == names(
        theirs.named_modules(prefix="m", remove_duplicate=False)
    )
    assert types(ours.modules()) == types(theirs.modules())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [v.shape for v in ours.state_dict().values()] == [
        tuple(v.shape) for v in theirs.state_dict().values()
    ]


def test_shared_parameters_are_one_object():
    model = tied_net(nn)
    assert model.a is model.b and model.c.weight is model.a.weight
    assert len(list(model.parameters())) == 3
    torch_model = tied_net(torch.nn)
    result = model.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})
    assert result == ([], [])
    np.testing.assert_array_equal(model.c.weight.data, torch_model.c.weight.detach().numpy())


def test_registration_follows_assignment():
    model = custom_net(nn)
    model.fc = nn.Tanh()  # replaces a child: its parameters go with it
    assert names(model.named_parameters()) == ["conv.weight"]
    model.extra = nn.Parameter(np.zeros(2, np.float32))
    assert names(model.named_parameters()) == ["extra", "conv.weight"]
    model.extra = 3  # a plain value replaces the parameter
    assert names(model.named_parameters()) == ["conv.weight"] and model.extra == 3
    del model.act
    assert names(model.named_children()) == ["conv", "flat", "fc"]
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'act'"):
        model.act  # noqa: B018
    linear = nn.Linear(2, 2)
    linear.bias = None  # registered as absent, as torch does
    assert names(linear.named_parameters()) == ["weight"] and linear.bias is None


def test_assigning_children_before_init_fails():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"Module.__init__\(\) before assigning 'fc'"):
        Broken()


# --- state_dict -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [small_net, nested_net, custom_net], ids=ARCH_IDS[:3])
@DTYPES
def test_custom_and_stacked_modules_match_torch(make, dtype):
    x = np.random.default_rng(0).standard_normal(INPUT_SHAPES[make]).astype(dtype)
    ours, theirs = make(nn, dtype).eval(), make(torch.nn, dtype).eval()
    compare_with_torch(ours, theirs, x)


@pytest.mark.parametrize("make", [small_net, nested_net, custom_net], ids=ARCH_IDS[:3])
def test_torch_state_dict_loads_unchanged_and_outputs_agree(make):
    theirs, ours = make(torch.nn).eval(), make(nn).eval()
    result = ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, theirs.state_dict()[key].numpy())
    x = np.random.default_rng(0).random(INPUT_SHAPES[make]).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    assert_close(ours(x), expected, np.float32, "outputs with torch's weights")


def test_state_dict_returns_copies():
    model = small_net(nn)
    state = model.state_dict()
    before = model[0].weight.data.copy()
    state["0.weight"][...] = 0
    np.testing.assert_array_equal(model[0].weight.data, before)
    assert all(not np.shares_memory(state[k], p.data) for k, p in model.named_parameters())
    assert state["0.weight"].dtype == np.float32
    assert small_net(nn, dtype=np.float64).state_dict()["5.bias"].dtype == np.float64


def test_load_state_dict_copies_into_the_same_arrays_in_their_dtype():
    model = small_net(nn, dtype=np.float64)
    weight = model[5].weight.data
    source = small_net(torch.nn).state_dict()  # float32
    model.load_state_dict({k: v.numpy() for k, v in source.items()})
    assert model[5].weight.data is weight and weight.dtype == np.float64
    np.testing.assert_array_equal(weight, source["5.weight"].numpy())


def test_load_state_dict_errors_list_every_problem_and_load_nothing():
    model = small_net(nn)
    before = model.state_dict()
    state = {k: v + 1 for k, v in before.items()}
    del state["0.bias"]
    state["9.weight"] = np.zeros(1, np.float32)
    state["5.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert message.startswith("Error(s) in loading state_dict for Sequential")
    assert 'Missing key(s) in state_dict: "0.bias"' in message
    assert 'Unexpected key(s) in state_dict: "9.weight"' in message
    assert ("size mismatch for 5.weight: copying a param with shape (2, 2) from checkpoint, the "
            "shape in current model is (5, 36)") in message
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    with pytest.raises(RuntimeError):  # torch refuses the same dict
        small_net(torch.nn).load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    # a size mismatch fails even when not strict, as in torch
    with pytest.raises(RuntimeError, match=r"size mismatch for 5.weight.*\(2, 2\).*\(5, 36\)"):
        model.load_state_dict(state, strict=False)


def test_load_state_dict_non_strict_returns_torchs_keys():
    ours, theirs = small_net(nn), small_net(torch.nn)
    state = {"0.weight": np.ones((4, 1, 3, 3), np.float32), "extra": np.ones(2, np.float32),
             "5.bias": np.full(5, 2, np.float32)}
    missing, unexpected = ours.load_state_dict(state, strict=False)
    expected = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()},
                                      strict=False)
    assert missing == expected.missing_keys and unexpected == expected.unexpected_keys
    assert ours[0].weight.dtype == np.float32 and (ours[0].weight.data == 1).all()
    assert (ours[5].bias.data == 2).all()


# --- modes and gradients --------------------------------------------------------------------


def test_train_eval_propagate():
    model = nested_net(nn)
    assert model.training and all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())
    model[2].train()  # a sub-tree alone
    assert model[2][2].training and not model[0].training and not model.training
    with pytest.raises(ValueError, match=r"Sequential.train: .*boolean, got 'yes'"):
        model.train("yes")


def test_train_eval_flags_match_torch_after_the_same_calls():
    ours, theirs = nested_net(nn), nested_net(torch.nn)
    for model in (ours, theirs):
        model.eval()
        model[2].train()
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()]


@DTYPES
def test_gradients_accumulate_like_torch_and_zero_grad(dtype):
    ours, theirs = nested_net(nn, dtype).eval(), nested_net(torch.nn, dtype).eval()
    theirs.load_state_dict(torch_state(ours))
    rng = np.random.default_rng(0)
    for _ in range(2):  # two different batches, two backward passes, no zero_grad between
        x = rng.random((2, 1, 4, 4)).astype(dtype)
        grad = rng.standard_normal((2, 3)).astype(dtype)
        ours(x)
        ours.backward(grad)
        theirs(torch.from_numpy(x)).backward(torch.from_numpy(grad))
    torch_grads = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        assert_close(param.grad, torch_grads[name].grad.numpy(), dtype, name, 1.0)
    ours.zero_grad(set_to_none=False)
    theirs.zero_grad(set_to_none=False)
    for name, param in ours.named_parameters():
        np.testing.assert_array_equal(param.grad, torch_grads[name].grad.numpy())
        assert param.grad.dtype == dtype and not param.grad.any()
    ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())


def test_zero_grad_false_keeps_the_gradient_arrays():
    model = nn.Linear(3, 2)
    model(np.ones((1, 3), np.float32))
    model.backward(np.ones((1, 2), np.float32))
    grad = model.weight.grad
    model.zero_grad(set_to_none=False)
    assert model.weight.grad is grad and not grad.any()


# --- default init ---------------------------------------------------------------------------


def ks_statistic(a, b):
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two
    empirical CDFs."""
    a, b = np.sort(a.ravel()), np.sort(b.ravel())
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return np.abs(cdf_a - cdf_b).max()


def ks_bound(n, m, alpha=1e-6):
    return np.sqrt(-np.log(alpha / 2) / 2) * np.sqrt((n + m) / (n * m))


# (constructor args, fan_in); layers with many weights, and many biases
INIT_CASES = {
    "linear-weights": ("Linear", (60, 300), 60),
    "linear-biases": ("Linear", (7, 6000), 7),
    "2d-filter-weights": ("Conv2d", (6, 160, 5), 6 * 25),
    "2d-filter-biases": ("Conv2d", (2, 4000, (1, 2)), 4),
}


@pytest.mark.parametrize("case", INIT_CASES)
def test_default_init_has_torchs_distribution(case):
    name, args, fan_in = INIT_CASES[case]
    mc.manual_seed(1)
    ours = getattr(nn, name)(*args)
    torch.manual_seed(1)
    theirs = getattr(torch.nn, name)(*args)
    bound = 1 / np.sqrt(fan_in)  # torch's kaiming_uniform_(a=sqrt(5)) bound and bias bound
    for key, ours_value in ours.state_dict().items():
        theirs_value = theirs.state_dict()[key].numpy()
        assert ours_value.dtype == np.float32
        assert np.abs(ours_value).max() <= bound and np.abs(theirs_value).max() <= bound
        # the same distribution as torch's draw: U(-bound, bound)
        assert ks_statistic(ours_value, theirs_value) < ks_bound(ours_value.size,
                                                                  theirs_value.size)
        if ours_value.size > 1000:  # it fills the range
            assert np.abs(ours_value).max() > 0.99 * bound and ours_value.min() < -0.99 * bound
        assert ks_statistic(ours_value, theirs_value[::-1] * -1) < ks_bound(
            ours_value.size, theirs_value.size)  # symmetric about 0


def test_manual_seed_makes_init_reproducible():
    mc.manual_seed(7)
    first = nested_net(nn).state_dict()
    mc.manual_seed(7)
    second = nested_net(nn).state_dict()
    third = nested_net(nn).state_dict()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
        assert not np.array_equal(first[key], third[key])


# --- dtypes and errors ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_through_forward_and_backward(dtype):
    model = small_net(nn, dtype=dtype)
    out = model(np.random.default_rng(0).random((2, 1, 8, 8)).astype(dtype))
    grad_x = model.backward(np.ones_like(out))
    assert out.dtype == grad_x.dtype == dtype
    assert all(p.data.dtype == p.grad.dtype == dtype for p in model.parameters())
    assert all(v.dtype == dtype for v in model.state_dict().values())


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros((1, 3)), TypeError,
         r"Linear\(in_features=3, out_features=2, bias=True\): input dtype float64 does not "
         r"match the layer's dtype float32"),
        (np.zeros((1, 3), np.int64), TypeError, r"Linear\(.*float32 or float64.*got dtype int64"),
        (np.zeros((1, 3), np.float16), TypeError, r"Linear\(.*got dtype float16"),
        ([[0.0, 0.0, 0.0]], TypeError, r"Linear\(.*array, got list"),
        (np.zeros((1, 4), np.float32), ValueError, r"Linear\(.*\(\.\.\., 3\), got shape \(1, 4\)"),
    ],
)
def test_bad_input_to_a_model_names_the_layer(x, error, match):
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    with pytest.raises(error, match=match):
        model(x)


def test_float32_input_into_a_float64_model():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, dtype=np.float64))
    with pytest.raises(TypeError, match="input dtype float32 does not match the layer's dtype "
                                        "float64"):
        model(np.zeros((1, 2, 2), np.float32))


def test_backward_before_forward_and_wrong_grad_shape():
    model = nested_net(nn)
    with pytest.raises(RuntimeError, match=r"LogSoftmax\(dim=1\): backward\(\) called before"):
        model.backward(np.ones((1, 3), np.float32))
    model(np.zeros((2, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"LogSoftmax\(dim=1\): grad_output must have the "
                                         r"output's shape \(2, 3\), got \(2, 4\)"):
        model.backward(np.ones((2, 4), np.float32))
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=12.*backward\(\) called before"):
        custom_net(nn).backward(np.ones((1, 2), np.float32))


def test_a_call_drops_the_last_forwards_cache_before_it_runs():
    """The saved arrays of the last batch are let go before the next forward allocates its
    own; a forward that fails leaves no stale cache for backward."""
    model = small_net(nn)
    model(np.zeros((2, 1, 8, 8), np.float32))
    caches_seen = []
    first = model[0]
    original_forward = first.forward

    def forward(x):
        caches_seen.append(first._cache)
        return original_forward(x)

    first.forward = forward
    model(np.zeros((2, 1, 8, 8), np.float32))
    assert caches_seen == [None] and first._cache is not None
    with pytest.raises(ValueError, match="expected input with 1 channels"):
        model(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward"):
        first.backward(np.ones((2, 4, 6, 6), np.float32))


def test_base_module_without_forward_or_backward():
    with pytest.raises(NotImplementedError, match="Module does not implement forward"):
        nn.Module()(np.zeros(2))
    with pytest.raises(NotImplementedError, match="Module does not implement backward"):
        nn.Module().backward(np.zeros(2))


# --- gradcheck ------------------------------------------------------------------------------


class WrongInputGradient(nn.Linear):
    def backward(self, grad_output):
        return 1.05 * super().backward(grad_output)


class WrongWeightGradient(nn.Linear):
    def backward(self, grad_output):
        grad_x = super().backward(grad_output)
        self.weight.grad = self.weight.grad.T.copy()  # a transposed-index bug
        return grad_x


@pytest.mark.parametrize("layer", [WrongInputGradient, WrongWeightGradient])
def test_gradcheck_fails_on_a_wrong_backward(layer):
    # not seed 0: gradcheck's own R = default_rng(0) would make R^T x symmetric
    x = np.random.default_rng(5).standard_normal((3, 4))
    mc.manual_seed(0)
    with pytest.raises(mc.GradcheckError, match="FAILED"):
        mc.gradcheck(layer(4, 4, dtype=np.float64), x)
    result = mc.gradcheck(layer(4, 4, dtype=np.float64), x, raise_exception=False)
    assert not result
    assert result.worst_name == ("input 0" if layer is WrongInputGradient else "weight")
    mc.manual_seed(0)
    assert mc.gradcheck(nn.Linear(4, 4, dtype=np.float64), x)  # the right one passes


def test_gradcheck_on_a_custom_module():
    model = custom_net(nn, np.float64)
    assert mc.gradcheck(model, np.random.default_rng(0).standard_normal((1, 2, 4, 4)))


# --- printing -------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ARCHITECTURES, ids=ARCH_IDS)
def test_repr_matches_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize(
    "build",
    [lambda lib: lib.Linear(3, 4), lambda lib: lib.Linear(3, 4, bias=False),
     lambda lib: lib.ReLU(), lambda lib: lib.ReLU(inplace=True), lambda lib: lib.Dropout(),
     lambda lib: lib.Dropout(0.1, inplace=True), lambda lib: lib.Flatten(),
     lambda lib: lib.Flatten(0, 2), lambda lib: lib.Softmax(), lambda lib: lib.Softmax(dim=-1),
     lambda lib: lib.Sequential(), lambda lib: lib.Sequential(lib.Sequential(lib.Sequential()))],
)
def test_leaf_repr_matches_torch(build):
    assert repr(build(nn)) == repr(build(torch.nn))


def test_parameter_repr_and_module_attribute_errors():
    layer = nn.Linear(2, 3)
    assert repr(layer.weight) == "Parameter(shape=(3, 2), dtype=float32)"
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'missing'"):
        layer.missing  # noqa: B018


def test_to_cpu_keeps_arrays_and_unknown_device_fails():
    model = small_net(nn)
    before = model[0].weight.data
    assert model.to("cpu") is model and model[0].weight.data is before
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        model.to("tpu")


def test_parameter_refuses_a_gradient_of_another_shape_or_dtype():
    param = nn.Parameter(np.zeros(3, np.float32))
    with pytest.raises(RuntimeError, match="dtype float64 for a parameter of shape \\(3,\\)"):
        param.accumulate_grad(np.zeros(3))
    with pytest.raises(RuntimeError, match="shape \\(1,\\)"):
        param.accumulate_grad(np.zeros(1, np.float32))
    param.accumulate_grad(np.ones(3, np.float32))
    param.accumulate_grad(np.ones(3, np.float32))
    np.testing.assert_array_equal(param.grad, [2, 2, 2])


def test_load_state_dict_loads_nothing_when_a_value_is_bad():
    layer = nn.Linear(2, 2)
    before = layer.weight.data.copy()
    state = {"weight": np.ones((2, 2)), "bias": np.array(["a", "b"])}
    with pytest.raises(TypeError, match="bias must be a numeric array"):
        layer.load_state_dict(state)
    np.testing.assert_array_equal(layer.weight.data, before)
    with pytest.raises(TypeError, match="expected a dict of arrays, got list"):
        layer.load_state_dict([("weight", np.ones((2, 2)))])
    layer.load_state_dict({"weight": [[1, 2], [3, 4]], "bias": [0.5, 0.5]})
    assert layer.weight.data.dtype == np.float32 and layer.weight.data[1, 1] == 4


def test_a_parameter_holds_an_array_never_a_scalar():
    """A NumPy scalar would make every in-place update (optimizers, grads) silently a no-op."""
    for value in (np.float64(1.0), 1.0, [1.0, 2.0]):
        with pytest.raises(TypeError, match=r"Parameter: data must be a numpy or cupy array"):
            nn.Parameter(value)
    assert nn.Parameter(np.asarray(1.0)).shape == ()
