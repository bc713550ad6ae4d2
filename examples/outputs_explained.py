"""What a 2-layer bidirectional LSTM returns on a padded batch, and where to find each piece.

Run: python examples/outputs_explained.py
"""

import torch

import rnnlab

torch.manual_seed(0)
batch, time, features, hidden = 3, 5, 4, 2
lstm = rnnlab.LSTM(features, hidden, num_layers=2, bidirectional=True, batch_first=True)

x = torch.randn(batch, time, features)
lengths = [5, 3, 1]                      # post padding: real tokens first
out = lstm(x, lengths=lengths)

print("output        ", tuple(out.output.shape))        # (batch, time, 2*hidden)
print("h_n           ", tuple(out.h_n.shape))           # (layers*2, batch, hidden), torch order
print("final_hidden  ", tuple(out.final_hidden.shape))  # (layers, 2, batch, hidden)
print("last          ", tuple(out.last.shape))          # (batch, 2*hidden)

# Sequence 1 has 3 real tokens. Its forward summary sits at position 2 (its last real token),
# its backward summary at position 0 (where the backward pass ends), never in the padding.
row = 1
print("forward  at t=2:", out.forward_output[row, 2].tolist())
print("backward at t=0:", out.backward_output[row, 0].tolist())
print("last[1]        :", out.last[row].tolist())
print("padding is zero:", bool((out.output[row, 3:] == 0).all()))
print("last == top layer of h_n:",
      torch.equal(out.last, torch.cat([out.final_hidden[-1, 0], out.final_hidden[-1, 1]], -1)))

# The classic mistake: output[:, -1] is padding for short sequences, and even for a full one
# its backward half has read a single token.
print("output[:, -1] == last?", torch.equal(out.output[:, -1], out.last))

# Same numbers as torch.nn.LSTM on a PackedSequence, with the same weights.
reference = torch.nn.LSTM(features, hidden, num_layers=2, bidirectional=True, batch_first=True)
reference.load_state_dict(lstm.state_dict())
packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                 enforce_sorted=False)
torch_out, (torch_h, _) = reference(packed)
torch_out, _ = torch.nn.utils.rnn.pad_packed_sequence(torch_out, batch_first=True)
print("matches torch.nn:", torch.allclose(out.output, torch_out, atol=1e-6),
      torch.allclose(out.h_n, torch_h, atol=1e-6))
