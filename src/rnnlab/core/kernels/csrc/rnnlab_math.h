// The activations of rnnlab's fused loops, shared by the kernels (recurrent.cpp) and the
// loops generated for user cells (rnnlab/core/update_codegen.py), so both compute the same
// numbers. Plain C++: the generated loops compile without torch's headers.
#pragma once

#include <algorithm>
#include <cmath>

namespace rnnlab_math {

// tanh for float: Eigen's rational approximation (generic_fast_tanh_float), a few ulp from
// std::tanh, branch-free so the row loops vectorise; double keeps std::tanh (gradcheck).
inline float tanh_(float x) {
  // x first in both: std::max(a, b) is (a < b) ? b : a, so a NaN x passes through (and
  // the result is NaN, as torch's tanh gives) instead of being clamped to ±1.
  const float clamped = std::min(std::max(x, -7.90531110763549805f), 7.90531110763549805f);
  const float x2 = clamped * clamped;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * clamped;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return p / q;
}
inline double tanh_(double x) { return std::tanh(x); }
template <typename T> inline T sigmoid_(T x) { return T(0.5) + T(0.5) * tanh_(T(0.5) * x); }

}  // namespace rnnlab_math
