"""NT-ASGD: the trigger on scripted validation sequences, and the running mean of iterates."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnlab.train.asgd import ParameterAverage, should_trigger, trigger_epoch


# Each case worked by hand with Algorithm 1's condition: epoch t triggers when t - 1 > n and
# v_t > min(v_1 .. v_{t-1-n}).
@pytest.mark.parametrize("scores, nonmono, expected", [
    # the docstring's example: epoch 5's 141 > min(150, 140)
    ([150, 140, 135, 136, 141], 2, 5),
    # n = 5, steadily improving: never
    ([200, 180, 170, 160, 150, 145, 140, 139], 5, None),
    # n = 5: epoch 7's 175 is worse than epoch 1's 170, the only score more than 5 back
    ([170, 180, 190, 200, 210, 220, 175], 5, 7),
    # n = 5: the same scores up to epoch 6 never trigger (too few epochs back) ...
    ([170, 180, 190, 200, 210, 220], 5, None),
    # ... and a score equal to the old best does not trigger (strictly worse), the next does
    ([170, 180, 190, 200, 210, 220, 170, 171], 5, 8),
    # n = 0: the first epoch that fails to beat every earlier one
    ([100, 90, 95], 0, 3),
])
def test_the_trigger_fires_at_the_hand_computed_epoch(scores, nonmono, expected):
    assert trigger_epoch(scores, nonmono) == expected


def test_should_trigger_reads_only_scores_more_than_n_epochs_back():
    # the best (100) is 2 epochs back: with n = 2 it does not count yet
    assert not should_trigger([150, 100, 120], 130, nonmono=2)
    assert should_trigger([150, 100, 120], 155, nonmono=2)  # worse than 150, 3 back
    with pytest.raises(ValueError, match="nonmono must be >= 0"):
        should_trigger([1.0], 2.0, -1)


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(4, 3), nn.Linear(3, 4))
    return model


def test_the_average_equals_the_mean_of_the_recorded_iterates():
    model = tiny_model()
    average = ParameterAverage(model)
    iterates = []
    for step in range(7):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter) * (step + 1))
        average.update(model)
        iterates.append({n: p.detach().double().clone() for n, p in model.named_parameters()})
    assert average.count == 7
    for name in average.names:
        oracle = torch.stack([it[name] for it in iterates]).mean(0)  # float64 mean
        torch.testing.assert_close(average.mean[name].double(), oracle, rtol=1e-6, atol=1e-6)


def test_tied_parameters_are_averaged_once():
    embedding, decoder = nn.Embedding(5, 3), nn.Linear(3, 5)
    decoder.weight = embedding.weight
    model = nn.ModuleDict({"embedding": embedding, "decoder": decoder})
    assert ParameterAverage(model).names == ["embedding.weight", "decoder.bias"]


def test_swapped_in_holds_the_mean_and_restores_the_iterate_bit_for_bit():
    model = tiny_model()
    average = ParameterAverage(model)
    with average.swapped_in(model):  # nothing averaged yet: the model as it is
        pass
    average.update(model)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(3.0)
    iterate = {n: p.detach().clone() for n, p in model.named_parameters()}
    with average.swapped_in(model):
        for name, parameter in model.named_parameters():
            torch.testing.assert_close(parameter.detach(), average.mean[name], rtol=0, atol=0)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.detach(), iterate[name], rtol=0, atol=0)


def test_a_saved_average_loads_to_the_same_state_and_refuses_another_model():
    model = tiny_model()
    average = ParameterAverage(model)
    average.update(model)
    average.update(model)
    restored = ParameterAverage(model)
    restored.load_state_dict(average.state_dict())
    assert restored.count == 2
    for name in average.names:
        torch.testing.assert_close(restored.mean[name], average.mean[name], rtol=0, atol=0)
    other = ParameterAverage(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="the saved average holds"):
        other.load_state_dict(average.state_dict())
