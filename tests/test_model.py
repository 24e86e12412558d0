import torch

from fashionnet.model import NeuralNetwork, build_model, pixels_to_input

# Copied from the tutorial's printed output: the model must print exactly this.
TUTORIAL_STRUCTURE = """NeuralNetwork(
  (flatten): Flatten(start_dim=1, end_dim=-1)
  (linear_relu_stack): Sequential(
    (0): Linear(in_features=784, out_features=512, bias=True)
    (1): ReLU()
    (2): Linear(in_features=512, out_features=512, bias=True)
    (3): ReLU()
    (4): Linear(in_features=512, out_features=10, bias=True)
  )
)"""

TUTORIAL_PARAMS = [
    ("linear_relu_stack.0.weight", (512, 784)),
    ("linear_relu_stack.0.bias", (512,)),
    ("linear_relu_stack.2.weight", (512, 512)),
    ("linear_relu_stack.2.bias", (512,)),
    ("linear_relu_stack.4.weight", (10, 512)),
    ("linear_relu_stack.4.bias", (10,)),
]


def test_printed_structure_is_the_tutorials():
    assert str(build_model()) == TUTORIAL_STRUCTURE
    assert str(NeuralNetwork()) == TUTORIAL_STRUCTURE


def test_parameter_names_and_shapes_are_the_tutorials():
    got = [(name, tuple(p.shape)) for name, p in build_model().named_parameters()]
    assert got == TUTORIAL_PARAMS
    assert sum(p.numel() for p in build_model().parameters()) == 669_706


def test_attributes_are_the_tutorials():
    model = build_model()
    assert isinstance(model.flatten, torch.nn.Flatten)
    assert isinstance(model.linear_relu_stack, torch.nn.Sequential)


def test_seed_makes_weights_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = build_model(seed=7), build_model(seed=7), build_model(seed=8)
    after = torch.rand(1)
    assert torch.equal(before, after), "build_model must not consume the caller's random stream"
    for (_, pa), (_, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters(), strict=True):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)


def test_forward_gives_logits_for_a_batch():
    logits = build_model()(torch.rand(3, 28, 28))
    assert logits.shape == (3, 10)


def test_pixels_to_input_matches_totensor_scaling():
    pixels = torch.tensor([[[0, 128, 255]]], dtype=torch.uint8)
    x = pixels_to_input(pixels)
    assert x.dtype == torch.float32
    assert torch.allclose(x, torch.tensor([[[0.0, 128 / 255, 1.0]]]))
