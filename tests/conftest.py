"""Suite-wide settings."""

import torch

# The suite runs many tiny models: one thread avoids OpenMP spin-up costs and, on a shared
# 2-core machine, oversubscription (measured up to 400x slower for tiny tests).
torch.set_num_threads(1)
