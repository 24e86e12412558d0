"""The photo and distillation losses (fashionnet/losses.py) on tiny tensors with values worked out by hand."""

import math

import pytest
import torch

from fashionnet import losses

LN3 = math.log(3)


def test_partial_label_is_minus_log_of_the_allowed_probability():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, LN3, 0.0, 0.0]])
    allowed = torch.tensor([[True, True, False, False], [True, False, False, False], [False, True, False, False]])
    # p = 1/4 each: a set of two holds 1/2; one class alone is plain cross-entropy (log 4);
    # the third row puts 3/6 on its allowed class: -log(1/2).
    expected = torch.tensor([math.log(2), math.log(4), math.log(2)])
    assert torch.allclose(losses.partial_label(logits, allowed), expected, atol=1e-6)
    single = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 0, 1]), reduction="none")
    assert torch.allclose(losses.partial_label(logits[1:], allowed[1:]), single[1:], atol=1e-6)


def test_partial_label_gradient_moves_belief_into_the_set_not_within_it():
    logits = torch.zeros(1, 4, requires_grad=True)
    losses.partial_label(logits, torch.tensor([[True, True, False, False]])).sum().backward()
    # d/dlogits = p - p restricted to the set and renormalised = [1/4 - 1/2, 1/4 - 1/2, 1/4, 1/4]
    assert torch.allclose(logits.grad, torch.tensor([[-0.25, -0.25, 0.25, 0.25]]), atol=1e-6)


def test_uniform_loss_is_zero_at_uniform_and_kl_elsewhere():
    assert torch.allclose(losses.uniform(torch.full((2, 10), 3.7)), torch.zeros(2), atol=1e-6)
    # p = (1/4, 3/4): KL(uniform || p) = 1/2 log(2) + 1/2 log(2/3) = 1/2 log(4/3)
    value = losses.uniform(torch.tensor([[0.0, LN3]]))
    assert value.item() == pytest.approx(0.5 * math.log(4 / 3), abs=1e-6)
    logits = torch.tensor([[0.0, LN3]], requires_grad=True)
    losses.uniform(logits).sum().backward()
    assert torch.allclose(logits.grad, torch.tensor([[-0.25, 0.25]]), atol=1e-6)  # p - 1/K


def test_photo_loss_picks_partial_or_uniform_per_row():
    logits = torch.tensor([[0.0, LN3, 0.0], [0.0, LN3, 0.0], [1.0, 2.0, 3.0]], requires_grad=True)
    allowed = torch.tensor([[False, True, False], [False, False, False], [True, False, True]])
    got = losses.photo(logits, allowed)
    expected = torch.cat(
        [
            losses.partial_label(logits[:1], allowed[:1]),
            losses.uniform(logits[1:2]),
            losses.partial_label(logits[2:], allowed[2:]),
        ]
    )
    assert torch.allclose(got, expected) and torch.isfinite(got).all()
    assert got[0].item() == pytest.approx(-math.log(3 / 5), abs=1e-6)  # p = (1, 3, 1) / 5
    got.sum().backward()
    assert torch.isfinite(logits.grad).all(), "the all-False row must not poison the gradient"


def test_distillation_is_scaled_kl_to_the_softened_teacher():
    teacher, student = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, LN3]])
    half_log = 0.5 * math.log(4 / 3)  # KL((1/2, 1/2) || (1/4, 3/4))
    assert losses.distillation(student, teacher, 1.0).item() == pytest.approx(half_log, abs=1e-6)
    # At T = 2 the student's logits are halved: the same KL, times T^2 = 4.
    assert losses.distillation(student * 2, teacher, 2.0).item() == pytest.approx(4 * half_log, abs=1e-6)
    assert losses.distillation(teacher, teacher, 3.0).item() == pytest.approx(0.0, abs=1e-7)
