// Fused CPU recurrences with hand-written backpropagation through time.
//
// One layer, one direction, time-major. The caller (rnnlab/core/kernels/ops.py) has already
// projected the inputs of all steps with one GEMM: gi = x W_ih^T + b_ih, (time, batch, G*H).
// Per step the forward pass does one GEMM (h_{t-1} W_hh^T) and one fused elementwise pass that
// saves the gate activations; the backward pass does one GEMM per step for the state gradient
// and leaves the weight gradients to one GEMM over all steps. Rows past their length keep
// their state (their output is zero), so h_n/c_n are the states after each row's last real
// step and gradients pass through the padded steps unchanged.
//
// Kinds: GRU (torch's linear_before_reset: n = tanh(gi_n + r * (W_hn h + b_hn))), and the
// LSTM family: 0 standard (i, f, g, o), 1 peephole (Gers & Schmidhuber 2000; the output gate
// looks at the new cell state), 2 CIFG (i, g, o; f = 1 - i); and the layer-normalised LSTM.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/native/CPUBlas.h>
#include <torch/library.h>

#include "rnnlab_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rnnlab_kernels {
namespace {

using rnnlab_math::sigmoid_;
using rnnlab_math::tanh_;

// Which rows have a real step at t: lengths (batch,) int64, or none (every step real).
struct Lengths {
  const int64_t* data = nullptr;
  bool real(int64_t row, int64_t t) const { return data == nullptr || t < data[row]; }
};

Lengths lengths_of(const c10::optional<at::Tensor>& lengths) {
  Lengths result;
  if (lengths.has_value() && lengths->defined()) result.data = lengths->data_ptr<int64_t>();
  return result;
}

bool has(const c10::optional<at::Tensor>& t) { return t.has_value() && t->defined(); }

// The recurrent GEMM input: h, or h * mask (Gal's recurrent dropout).
at::Tensor recurrent_input(const at::Tensor& h, const c10::optional<at::Tensor>& mask,
                           at::Tensor& buffer) {
  if (!has(mask)) return h;
  return at::mul_out(buffer, h, *mask);
}

// Whether the per-step products of a (N, K) weight run brgemm: for weights up to 2^20
// elements (seed 002's 512 x 128 is 65k); larger ones (a 650-unit LM's 2600 x 650) go to
// at::mm, which was 1.01-1.27x faster there on an AMD EPYC (znver3) while brgemm won at seed
// size (benchmarks/RESULTS.md §1). RNNLAB_BRGEMM=1 / =0 force either (read per call, so
// benchmarks/ab_brgemm.py compares both paths in one process).
bool brgemm_chosen(int64_t N, int64_t K) {
  const char* setting = std::getenv("RNNLAB_BRGEMM");
  if (setting != nullptr && std::string(setting) == "0") return false;
  if (setting != nullptr && std::string(setting) == "1") return true;
  return N * K <= (int64_t(1) << 20);
}

// The recurrent weight as the right-hand side of every step's product, out = a · op(W) with
// op(W) = W^T (forward: W is (N, K)) or W (backward: W is (K, N)). A step's product is small
// (batch × hidden); through at::mm each call pays MKL's dispatch and re-packing of W (and on
// AMD CPUs MKL's generic code path). oneDNN's batch-reduce GEMM micro-kernel (ATen's
// cpublas::brgemm, JIT-compiled for this CPU once per shape and cached by ATen) takes W as a
// row-major (K, N) copy made once per sequence: the recurrences run 16-25 % faster at seed
// 002's size (benchmarks/RESULTS.md §1). Where oneDNN's micro-kernels are missing, brgemm
// itself falls back to a plain GEMM. float32 only: double (the gradcheck path) keeps at::mm.
class StepWeight {
 public:
  StepWeight(const at::Tensor& w, bool transposed)
      : w_(w.contiguous()), transposed_(transposed) {
    N_ = transposed ? w_.size(0) : w_.size(1);
    K_ = transposed ? w_.size(1) : w_.size(0);
    if (w_.scalar_type() == at::kFloat && brgemm_chosen(N_, K_)) {
      rhs_ = transposed ? w_.t().contiguous() : w_;  // (K, N) row-major
    }
  }

  // out (rows, N) = a (rows, K) · op(W), or out += that when accumulate.
  void gemm(at::Tensor& out, const at::Tensor& a, bool accumulate) const {
    if (rhs_.defined() && a.is_contiguous() && out.is_contiguous()) {
      at::native::cpublas::brgemm(a.size(0), N_, K_, /*ld_a=*/K_, /*ld_b=*/N_, /*ld_c=*/N_,
                                  accumulate, a.data_ptr<float>(), rhs_.data_ptr<float>(),
                                  out.data_ptr<float>(), /*is_vnni=*/false);
      return;
    }
    const auto rhs = transposed_ ? w_.t() : w_;
    if (accumulate) {
      out.addmm_(a, rhs);
    } else {
      at::mm_out(out, a, rhs);
    }
  }

 private:
  at::Tensor w_, rhs_;
  bool transposed_;
  int64_t N_ = 0, K_ = 0;
};

// gh (batch, G*H) = input W_hh^T (+ b_hh)
void recurrent_gemm(at::Tensor& out, const at::Tensor& input, const StepWeight& w,
                    const c10::optional<at::Tensor>& bias) {
  if (has(bias)) {
    out.copy_(bias->expand_as(out));
    w.gemm(out, input, /*accumulate=*/true);
  } else {
    w.gemm(out, input, /*accumulate=*/false);
  }
}

// Backward of recurrent_gemm for one step: dh += d_gate W_hh (W_hh as a non-transposed
// StepWeight), times Gal's mask where recurrent dropout applied it; through is scratch.
void add_state_gradient(at::Tensor& dh, const at::Tensor& d_gate, const StepWeight& w,
                        const c10::optional<at::Tensor>& mask, at::Tensor& through) {
  if (has(mask)) {
    w.gemm(through, d_gate, /*accumulate=*/false);
    dh.add_(through.mul_(*mask));
  } else {
    w.gemm(dh, d_gate, /*accumulate=*/true);
  }
}

// The recurrent weight's gradient over all steps in one GEMM: d_gate (T, B, G) against the
// h each step read (hs[0..T), times Gal's mask where recurrent dropout applied it): (G, H).
at::Tensor recurrent_weight_gradient(const at::Tensor& d_gate, const at::Tensor& hs,
                                     const c10::optional<at::Tensor>& mask) {
  const int64_t T = d_gate.size(0), B = d_gate.size(1), H = hs.size(2);
  const auto h_in = has(mask) ? hs.narrow(0, 0, T) * *mask : hs.narrow(0, 0, T);
  return d_gate.view({T * B, d_gate.size(2)}).t().mm(h_in.reshape({T * B, H}));
}

constexpr int64_t kRowGrain = 4;

// Where a forward pass keeps its per-step values. For training (save) every step's, which
// the backward pass reads; for inference one step's scratch and two state slices used in
// turn: a batch-256 evaluation then does not allocate (and page-fault in) ~80 MB per layer
// and direction, which cost as much as its recurrent GEMMs (benchmarks/RESULTS.md §1).
struct Storage {
  bool save;
  int64_t T, B;
  at::TensorOptions options;
  // Per-step values (time or 1, batch, width); step(t) is step t's slot.
  at::Tensor steps(int64_t width) const { return at::empty({save ? T : 1, B, width}, options); }
  int64_t step(int64_t t) const { return save ? t : 0; }
  // States h_0 … h_T (or two slices); state(t) is h_t's slot.
  at::Tensor states(int64_t width) const {
    return at::empty({save ? T + 1 : 2, B, width}, options);
  }
  int64_t state(int64_t t) const { return save ? t : t % 2; }
};

// ------------------------------------------------------------------------------ GRU --------
// One row of one step. The row loops live in functions of their own, with restrict-qualified
// parameters, so the compiler vectorises them without runtime alias checks (inside the
// dispatch lambdas it did not: 2.5x slower).
template <typename T>
__attribute__((noinline)) void gru_row_backward(
    int64_t H, const T* __restrict__ s, const T* __restrict__ h, const T* __restrict__ d_y,
    const T* __restrict__ d_h, T* __restrict__ d_direct, T* __restrict__ a_i,
    T* __restrict__ a_h) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = s[j], z = s[H + j], n = s[2 * H + j], hn_lin = s[3 * H + j];
    const T grad = d_h[j] + d_y[j];
    const T d_n = grad * (T(1) - z) * (T(1) - n * n);
    const T d_z = grad * (h[j] - n) * z * (T(1) - z);
    const T d_r = d_n * hn_lin * r * (T(1) - r);
    a_i[j] = d_r; a_i[H + j] = d_z; a_i[2 * H + j] = d_n;
    a_h[j] = d_r; a_h[H + j] = d_z; a_h[2 * H + j] = d_n * r;
    d_direct[j] = grad * z;
  }
}

template <typename T>
__attribute__((noinline)) void gru_row_forward(
    int64_t H, const T* __restrict__ x, const T* __restrict__ r_h, const T* __restrict__ h,
    T* __restrict__ h_new, T* __restrict__ y, T* __restrict__ saved) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = sigmoid_(x[j] + r_h[j]);
    const T z = sigmoid_(x[H + j] + r_h[H + j]);
    const T hn_lin = r_h[2 * H + j];
    const T n = tanh_(x[2 * H + j] + r * hn_lin);
    const T value = (T(1) - z) * n + z * h[j];
    h_new[j] = value; y[j] = value;
    saved[j] = r; saved[H + j] = z; saved[2 * H + j] = n; saved[3 * H + j] = hn_lin;
  }
}

std::vector<at::Tensor> gru_forward(const at::Tensor& gi, const at::Tensor& h0,
                                    const at::Tensor& w_hh, const c10::optional<at::Tensor>& b_hh,
                                    const c10::optional<at::Tensor>& lengths,
                                    const c10::optional<at::Tensor>& rmask, bool save) {
  const int64_t T = gi.size(0), B = gi.size(1), H = h0.size(1);
  const Storage keep{save, T, B, gi.options()};
  auto hs = keep.states(H);
  hs[0].copy_(h0);
  auto out = at::empty({T, B, H}, gi.options());
  auto gates = keep.steps(4 * H);  // r, z, n, (W_hn h + b_hn)
  auto gh = at::empty({B, 3 * H}, gi.options());
  auto masked = at::empty({B, H}, gi.options());
  const StepWeight w_t(w_hh, /*transposed=*/true);
  const Lengths len = lengths_of(lengths);
  AT_DISPATCH_FLOATING_TYPES(gi.scalar_type(), "rnnlab_gru_forward", [&] {
    for (int64_t t = 0; t < T; ++t) {
      const auto h_prev = hs[keep.state(t)];
      recurrent_gemm(gh, recurrent_input(h_prev, rmask, masked), w_t, b_hh);
      const scalar_t* gi_t = gi.data_ptr<scalar_t>() + t * B * 3 * H;
      const scalar_t* gh_t = gh.data_ptr<scalar_t>();
      const scalar_t* hp = h_prev.data_ptr<scalar_t>();
      scalar_t* hn = hs.data_ptr<scalar_t>() + keep.state(t + 1) * B * H;
      scalar_t* o = out.data_ptr<scalar_t>() + t * B * H;
      scalar_t* g = gates.data_ptr<scalar_t>() + keep.step(t) * B * 4 * H;
      at::parallel_for(0, B, kRowGrain, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          const scalar_t* __restrict__ x = gi_t + b * 3 * H;
          const scalar_t* __restrict__ r_h = gh_t + b * 3 * H;
          const scalar_t* __restrict__ h = hp + b * H;
          scalar_t* __restrict__ h_new = hn + b * H;
          scalar_t* __restrict__ y = o + b * H;
          scalar_t* __restrict__ saved = g + b * 4 * H;
          if (!len.real(b, t)) {
            for (int64_t j = 0; j < H; ++j) { h_new[j] = h[j]; y[j] = 0; }
            continue;
          }
          gru_row_forward(H, x, r_h, h, h_new, y, saved);
        }
      });
    }
  });
  return {out, hs[keep.state(T)], gates, hs};
}

std::vector<at::Tensor> gru_backward(const at::Tensor& d_out, const at::Tensor& d_hn,
                                     const at::Tensor& gates, const at::Tensor& hs,
                                     const at::Tensor& w_hh,
                                     const c10::optional<at::Tensor>& lengths,
                                     const c10::optional<at::Tensor>& rmask) {
  const int64_t T = gates.size(0), B = gates.size(1), H = hs.size(2);
  auto dh = d_hn.clone();
  auto d_gi = at::empty({T, B, 3 * H}, gates.options());
  auto d_gh = at::empty({T, B, 3 * H}, gates.options());
  auto direct = at::empty({B, H}, gates.options());
  auto through = at::empty({B, H}, gates.options());
  const StepWeight w(w_hh, /*transposed=*/false);
  const Lengths len = lengths_of(lengths);
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnlab_gru_backward", [&] {
    for (int64_t t = T - 1; t >= 0; --t) {
      const scalar_t* g = gates.data_ptr<scalar_t>() + t * B * 4 * H;
      const scalar_t* hp = hs.data_ptr<scalar_t>() + t * B * H;
      const scalar_t* dy = d_out.data_ptr<scalar_t>() + t * B * H;
      scalar_t* dh_p = dh.data_ptr<scalar_t>();
      scalar_t* dir = direct.data_ptr<scalar_t>();
      scalar_t* dgi = d_gi.data_ptr<scalar_t>() + t * B * 3 * H;
      scalar_t* dgh = d_gh.data_ptr<scalar_t>() + t * B * 3 * H;
      at::parallel_for(0, B, kRowGrain, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          const scalar_t* __restrict__ s = g + b * 4 * H;
          const scalar_t* __restrict__ h = hp + b * H;
          const scalar_t* __restrict__ d_y = dy + b * H;
          const scalar_t* __restrict__ d_h = dh_p + b * H;
          scalar_t* __restrict__ d_direct = dir + b * H;
          scalar_t* __restrict__ a_i = dgi + b * 3 * H;
          scalar_t* __restrict__ a_h = dgh + b * 3 * H;
          if (!len.real(b, t)) {
            for (int64_t j = 0; j < H; ++j) d_direct[j] = d_h[j];
            for (int64_t j = 0; j < 3 * H; ++j) { a_i[j] = 0; a_h[j] = 0; }
            continue;
          }
          gru_row_backward(H, s, h, d_y, d_h, d_direct, a_i, a_h);
        }
      });
      dh.copy_(direct);
      add_state_gradient(dh, d_gh[t], w, rmask, through);
    }
  });
  auto d_w = recurrent_weight_gradient(d_gh, hs, rmask);
  auto d_b = d_gh.view({T * B, 3 * H}).sum(0);
  return {d_gi, dh, d_w, d_b};
}

// ------------------------------------------------------------------------- LSTM family -----
template <typename T, int Kind>
__attribute__((noinline)) void lstm_row_forward(
    int64_t H, const T* __restrict__ x, const T* __restrict__ r_h, const T* __restrict__ c,
    const T* __restrict__ peep, T* __restrict__ h_new, T* __restrict__ c_new,
    T* __restrict__ y, T* __restrict__ s, T* __restrict__ tc) {
  for (int64_t j = 0; j < H; ++j) {
    T c_next, o;
    if constexpr (Kind == 2) {  // CIFG: i, g, o
      const T i = sigmoid_(x[j] + r_h[j]);
      const T g = tanh_(x[H + j] + r_h[H + j]);
      o = sigmoid_(x[2 * H + j] + r_h[2 * H + j]);
      c_next = (T(1) - i) * c[j] + i * g;
      s[j] = i; s[H + j] = g; s[2 * H + j] = o;
    } else {
      T i_in = x[j] + r_h[j], f_in = x[H + j] + r_h[H + j];
      if constexpr (Kind == 1) { i_in += peep[j] * c[j]; f_in += peep[H + j] * c[j]; }
      const T i = sigmoid_(i_in), f = sigmoid_(f_in);
      const T g = tanh_(x[2 * H + j] + r_h[2 * H + j]);
      c_next = f * c[j] + i * g;
      T o_in = x[3 * H + j] + r_h[3 * H + j];
      if constexpr (Kind == 1) o_in += peep[2 * H + j] * c_next;
      o = sigmoid_(o_in);
      s[j] = i; s[H + j] = f; s[2 * H + j] = g; s[3 * H + j] = o;
    }
    const T t_c = tanh_(c_next);
    c_new[j] = c_next; tc[j] = t_c; h_new[j] = o * t_c; y[j] = o * t_c;
  }
}

template <typename T, int Kind>
__attribute__((noinline)) void lstm_row_backward(
    int64_t H, const T* __restrict__ s, const T* __restrict__ tc, const T* __restrict__ c,
    const T* __restrict__ c_next, const T* __restrict__ d_y, const T* __restrict__ peep,
    T* __restrict__ d_h, T* __restrict__ d_c, T* __restrict__ a, T* __restrict__ d_peep) {
  for (int64_t j = 0; j < H; ++j) {
    const T grad_h = d_h[j] + d_y[j];
    const T t_c = tc[j];
    if constexpr (Kind == 2) {
      const T i = s[j], g = s[H + j], o = s[2 * H + j];
      const T d_o = grad_h * t_c * o * (T(1) - o);
      const T d_cn = d_c[j] + grad_h * o * (T(1) - t_c * t_c);
      a[j] = d_cn * (g - c[j]) * i * (T(1) - i);
      a[H + j] = d_cn * i * (T(1) - g * g);
      a[2 * H + j] = d_o;
      d_c[j] = d_cn * (T(1) - i);
    } else {
      const T i = s[j], f = s[H + j], g = s[2 * H + j], o = s[3 * H + j];
      const T d_o = grad_h * t_c * o * (T(1) - o);
      T d_cn = d_c[j] + grad_h * o * (T(1) - t_c * t_c);
      if constexpr (Kind == 1) d_cn += d_o * peep[2 * H + j];
      const T d_i = d_cn * g * i * (T(1) - i);
      const T d_f = d_cn * c[j] * f * (T(1) - f);
      a[j] = d_i; a[H + j] = d_f; a[2 * H + j] = d_cn * i * (T(1) - g * g);
      a[3 * H + j] = d_o;
      T d_cp = d_cn * f;
      if constexpr (Kind == 1) {
        d_cp += d_i * peep[j] + d_f * peep[H + j];
        // this row's share of dL/dp: d_i ⊙ c_{t-1}, d_f ⊙ c_{t-1}, d_o ⊙ c_t
        d_peep[j] += d_i * c[j]; d_peep[H + j] += d_f * c[j];
        d_peep[2 * H + j] += d_o * c_next[j];
      }
      d_c[j] = d_cp;
    }
    d_h[j] = 0;  // h_{t-1} reaches step t only through W_hh: added by the caller's GEMM
  }
}

int64_t gate_count(int64_t kind) { return kind == 2 ? 3 : 4; }

std::vector<at::Tensor> lstm_forward(int64_t kind, const at::Tensor& gi, const at::Tensor& h0,
                                     const at::Tensor& c0, const at::Tensor& w_hh,
                                     const c10::optional<at::Tensor>& b_hh,
                                     const c10::optional<at::Tensor>& peephole,
                                     const c10::optional<at::Tensor>& lengths,
                                     const c10::optional<at::Tensor>& rmask, bool save) {
  TORCH_CHECK(kind >= 0 && kind <= 2, "rnnlab lstm_forward: unknown kind ", kind);
  TORCH_CHECK(kind != 1 || has(peephole), "rnnlab lstm_forward: peephole weights missing");
  const int64_t T = gi.size(0), B = gi.size(1), H = h0.size(1), G = gate_count(kind);
  const Storage keep{save, T, B, gi.options()};
  auto hs = keep.states(H);
  auto cs = keep.states(H);
  hs[0].copy_(h0);
  cs[0].copy_(c0);
  auto out = at::empty({T, B, H}, gi.options());
  auto gates = keep.steps(G * H);  // activations in weight order
  auto tcs = keep.steps(H);        // tanh(c_t)
  auto gh = at::empty({B, G * H}, gi.options());
  auto masked = at::empty({B, H}, gi.options());
  const StepWeight w_t(w_hh, /*transposed=*/true);
  const Lengths len = lengths_of(lengths);
  AT_DISPATCH_FLOATING_TYPES(gi.scalar_type(), "rnnlab_lstm_forward", [&] {
    const scalar_t* peep = kind == 1 ? peephole->data_ptr<scalar_t>() : nullptr;
    for (int64_t t = 0; t < T; ++t) {
      recurrent_gemm(gh, recurrent_input(hs[keep.state(t)], rmask, masked), w_t, b_hh);
      const scalar_t* gi_t = gi.data_ptr<scalar_t>() + t * B * G * H;
      const scalar_t* gh_t = gh.data_ptr<scalar_t>();
      const scalar_t* hp = hs.data_ptr<scalar_t>() + keep.state(t) * B * H;
      const scalar_t* cp = cs.data_ptr<scalar_t>() + keep.state(t) * B * H;
      scalar_t* hn = hs.data_ptr<scalar_t>() + keep.state(t + 1) * B * H;
      scalar_t* cn = cs.data_ptr<scalar_t>() + keep.state(t + 1) * B * H;
      scalar_t* o_t = out.data_ptr<scalar_t>() + t * B * H;
      scalar_t* g_t = gates.data_ptr<scalar_t>() + keep.step(t) * B * G * H;
      scalar_t* tc_t = tcs.data_ptr<scalar_t>() + keep.step(t) * B * H;
      at::parallel_for(0, B, kRowGrain, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          const scalar_t* __restrict__ x = gi_t + b * G * H;
          const scalar_t* __restrict__ r_h = gh_t + b * G * H;
          const scalar_t* __restrict__ c = cp + b * H;
          scalar_t* __restrict__ h_new = hn + b * H;
          scalar_t* __restrict__ c_new = cn + b * H;
          scalar_t* __restrict__ y = o_t + b * H;
          scalar_t* __restrict__ s = g_t + b * G * H;
          scalar_t* __restrict__ tc = tc_t + b * H;
          if (!len.real(b, t)) {
            const scalar_t* h = hp + b * H;
            for (int64_t j = 0; j < H; ++j) { h_new[j] = h[j]; c_new[j] = c[j]; y[j] = 0; }
            continue;
          }
          if (kind == 2) {
            lstm_row_forward<scalar_t, 2>(H, x, r_h, c, peep, h_new, c_new, y, s, tc);
          } else if (kind == 1) {
            lstm_row_forward<scalar_t, 1>(H, x, r_h, c, peep, h_new, c_new, y, s, tc);
          } else {
            lstm_row_forward<scalar_t, 0>(H, x, r_h, c, peep, h_new, c_new, y, s, tc);
          }
        }
      });
    }
  });
  return {out, hs[keep.state(T)], cs[keep.state(T)], gates, tcs, hs, cs};
}

std::vector<at::Tensor> lstm_backward(int64_t kind, const at::Tensor& d_out,
                                      const at::Tensor& d_hn, const at::Tensor& d_cn,
                                      const at::Tensor& gates, const at::Tensor& tcs,
                                      const at::Tensor& hs, const at::Tensor& cs,
                                      const at::Tensor& w_hh,
                                      const c10::optional<at::Tensor>& peephole,
                                      const c10::optional<at::Tensor>& lengths,
                                      const c10::optional<at::Tensor>& rmask) {
  const int64_t T = gates.size(0), B = gates.size(1), H = hs.size(2), G = gate_count(kind);
  auto dh = d_hn.clone();
  auto dc = d_cn.clone();
  auto d_a = at::empty({T, B, G * H}, gates.options());  // pre-activation gradients
  auto through = at::empty({B, H}, gates.options());
  // Peephole gradients, summed per row (each row is one thread's at every step) then over rows.
  auto d_peep_rows = at::zeros({kind == 1 ? B : 0, 3 * H}, gates.options());
  const StepWeight w(w_hh, /*transposed=*/false);
  const Lengths len = lengths_of(lengths);
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnlab_lstm_backward", [&] {
    const scalar_t* peep = kind == 1 ? peephole->data_ptr<scalar_t>() : nullptr;
    scalar_t* dp_rows = kind == 1 ? d_peep_rows.data_ptr<scalar_t>() : nullptr;
    for (int64_t t = T - 1; t >= 0; --t) {
      const scalar_t* g_t = gates.data_ptr<scalar_t>() + t * B * G * H;
      const scalar_t* tc_t = tcs.data_ptr<scalar_t>() + t * B * H;
      const scalar_t* cp = cs.data_ptr<scalar_t>() + t * B * H;
      const scalar_t* cn = cs.data_ptr<scalar_t>() + (t + 1) * B * H;
      const scalar_t* dy = d_out.data_ptr<scalar_t>() + t * B * H;
      scalar_t* dh_p = dh.data_ptr<scalar_t>();
      scalar_t* dc_p = dc.data_ptr<scalar_t>();
      scalar_t* da_t = d_a.data_ptr<scalar_t>() + t * B * G * H;
      at::parallel_for(0, B, kRowGrain, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          const scalar_t* __restrict__ s = g_t + b * G * H;
          const scalar_t* __restrict__ tc = tc_t + b * H;
          const scalar_t* __restrict__ c = cp + b * H;
          const scalar_t* __restrict__ c_next = cn + b * H;
          const scalar_t* __restrict__ d_y = dy + b * H;
          scalar_t* __restrict__ d_h = dh_p + b * H;
          scalar_t* __restrict__ d_c = dc_p + b * H;
          scalar_t* __restrict__ a = da_t + b * G * H;
          if (!len.real(b, t)) {  // the state passed through: so do its gradients
            for (int64_t j = 0; j < G * H; ++j) a[j] = 0;
            continue;
          }
          if (kind == 2) {
            lstm_row_backward<scalar_t, 2>(H, s, tc, c, c_next, d_y, peep, d_h, d_c, a,
                                            dp_rows + b * 3 * H);
          } else if (kind == 1) {
            lstm_row_backward<scalar_t, 1>(H, s, tc, c, c_next, d_y, peep, d_h, d_c, a,
                                            dp_rows + b * 3 * H);
          } else {
            lstm_row_backward<scalar_t, 0>(H, s, tc, c, c_next, d_y, peep, d_h, d_c, a,
                                            dp_rows + b * 3 * H);
          }
        }
      });
      add_state_gradient(dh, d_a[t], w, rmask, through);
    }
  });
  auto d_w = recurrent_weight_gradient(d_a, hs, rmask);
  auto d_b = d_a.view({T * B, G * H}).sum(0);
  at::Tensor d_peep;
  if (kind == 1) d_peep = d_peep_rows.sum(0).view({3, H});
  return {d_a, dh, dc, d_w, d_b, d_peep};
}

// ---------------------------------------------------------------- layer-normalised LSTM ----
// Ba et al. 2016 §3.1 as rnnlab.LayerNormLSTMCell computes it, both norms of the gate input
// inside the kernel; p = x W_ih^T (all steps, one GEMM by the caller). Per step:
//   u = h W_hh^T;  a = LN(p; α_ih) + LN(u; α_hh) + shift;  i, f, g, o from a (torch's order)
//   c' = σ(f) c + σ(i) tanh(g);  h' = σ(o) tanh(LN(c'; α_c, β_c))
// shift = β_ih + b_ih + β_hh + b_hh: four vectors added to the same pre-activation, summed once
// by the caller (autograd hands each the one gradient). Normalising p here, not in a separate
// torch layer norm over (time, batch, 4H), saves two passes over that tensor each way.

// Mean and 1/sqrt(var + eps) of v (n values), two passes (exact mean). The sums are SIMD
// reductions (-fopenmp-simd): reassociated, which float sums need to vectorise at all, and no
// further from the exact sum than torch's own layer norm.
template <typename T>
inline void moments(const T* __restrict__ v, int64_t n, double eps, T& mean, T& rstd) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += v[j];
  mean = sum / T(n);
  T var = 0;
#pragma omp simd reduction(+ : var)
  for (int64_t j = 0; j < n; ++j) { const T d = v[j] - mean; var += d * d; }
  rstd = T(1) / std::sqrt(var / T(n) + T(eps));
}

// One normalised vector: its values, mean and 1/σ, and its gain.
template <typename T>
struct Normed {
  const T* __restrict__ v;
  T mean, rstd;
  const T* __restrict__ gain;
};

// The gate activations of lanes [from, to): s = act(LN(p) + LN(u) + shift), u's x_hat saved
// (p's is recomputed by the backward pass from p and its moments: p is the kernel's input and
// stays alive, and each per-step value not written saves memory traffic, which is what bounds
// these passes). One loop per activation (not a select per element) so each vectorises with
// one function.
template <typename T, bool Tanh>
inline void ln_gates(int64_t from, int64_t to, const Normed<T>& p, const Normed<T>& u,
                     const T* __restrict__ shift, T* __restrict__ xh, T* __restrict__ s) {
#pragma omp simd
  for (int64_t j = from; j < to; ++j) {
    const T x_i = (p.v[j] - p.mean) * p.rstd, x_h = (u.v[j] - u.mean) * u.rstd;
    xh[j] = x_h;
    const T pre = x_i * p.gain[j] + x_h * u.gain[j] + shift[j];
    s[j] = Tanh ? tanh_(pre) : sigmoid_(pre);
  }
}

// Which eps each norm takes (the cell's three nn.LayerNorm modules may differ).
struct Eps {
  double ih, hh, c;
};

// The per-row saved values of one step. r holds 1/σ of the three norms (hh, cell, ih) and the
// mean of p.
template <typename T>
struct LnSaved {
  T* __restrict__ s;   // σ(i), σ(f), tanh(g), σ(o)
  T* __restrict__ xh;  // x_hat of u
  T* __restrict__ xc;  // x_hat of c'
  T* __restrict__ tl;  // tanh(LN(c'))
  T* __restrict__ r;
};

template <typename T>
__attribute__((noinline)) void ln_lstm_row_forward(
    int64_t H, const T* __restrict__ p, const T* __restrict__ u, const T* __restrict__ c,
    const T* __restrict__ a_ih, const T* __restrict__ a_hh, const T* __restrict__ shift,
    const T* __restrict__ a_c, const T* __restrict__ b_c, Eps eps, T* __restrict__ h_new,
    T* __restrict__ c_new, T* __restrict__ y, const LnSaved<T>& keep) {
  Normed<T> np{p, 0, 0, a_ih}, nu{u, 0, 0, a_hh};
  moments(p, 4 * H, eps.ih, np.mean, np.rstd);
  moments(u, 4 * H, eps.hh, nu.mean, nu.rstd);
  keep.r[0] = nu.rstd;
  keep.r[2] = np.rstd;
  keep.r[3] = np.mean;
  T* __restrict__ s = keep.s;
  ln_gates<T, false>(0, 2 * H, np, nu, shift, keep.xh, s);      // i, f
  ln_gates<T, true>(2 * H, 3 * H, np, nu, shift, keep.xh, s);   // g
  ln_gates<T, false>(3 * H, 4 * H, np, nu, shift, keep.xh, s);  // o
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) c_new[j] = s[H + j] * c[j] + s[j] * s[2 * H + j];
  T mean, rstd;
  moments(c_new, H, eps.c, mean, rstd);
  keep.r[1] = rstd;
  T* __restrict__ xc = keep.xc;
  T* __restrict__ tl = keep.tl;
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T x_hat = (c_new[j] - mean) * rstd;
    xc[j] = x_hat;
    const T t_l = tanh_(x_hat * a_c[j] + b_c[j]);
    tl[j] = t_l;
    h_new[j] = s[3 * H + j] * t_l;
    y[j] = h_new[j];
  }
}

// One row of one step backwards. sums: this row's running share of dL/dshift (4H), dL/dα_hh
// (4H), dL/dα_ih (4H), dL/dα_c (H), dL/dβ_c (H): each row is one thread's at every step, so
// no two threads share a row. Writes dL/du (du) and dL/dp (dp) for the caller's GEMMs.
template <typename T>
__attribute__((noinline)) void ln_lstm_row_backward(
    int64_t H, const T* __restrict__ s, const T* __restrict__ p, const T* __restrict__ xh,
    const T* __restrict__ xc, const T* __restrict__ tl, const T* __restrict__ r,
    const T* __restrict__ c, const T* __restrict__ d_y, const T* __restrict__ a_ih,
    const T* __restrict__ a_hh, const T* __restrict__ a_c, T* __restrict__ d_h,
    T* __restrict__ d_c, T* __restrict__ dp, T* __restrict__ du, T* __restrict__ d_cn,
    T* __restrict__ sums) {
  const int64_t G = 4;
  T* __restrict__ d_shift = sums;
  T* __restrict__ d_gain_hh = sums + G * H;
  T* __restrict__ d_gain_ih = sums + 2 * G * H;
  T* __restrict__ d_gain_c = sums + 3 * G * H;
  T* __restrict__ d_shift_c = sums + 3 * G * H + H;
  // through h' = σ(o) tanh(LN(c')): the output gate and the normalised cell. dp holds dL/da
  // (the gate pre-activations) until the last loop turns it into dL/dp in place.
  T* __restrict__ a = dp;
  T sum_d = 0, sum_dx = 0;
#pragma omp simd reduction(+ : sum_d, sum_dx)
  for (int64_t j = 0; j < H; ++j) {
    const T grad_h = d_h[j] + d_y[j], o = s[3 * H + j];
    a[3 * H + j] = grad_h * tl[j] * o * (T(1) - o);
    const T d_ln = grad_h * o * (T(1) - tl[j] * tl[j]);
    d_gain_c[j] += d_ln * xc[j];
    d_shift_c[j] += d_ln;
    const T dx = d_ln * a_c[j];
    d_cn[j] = dx;
    sum_d += dx; sum_dx += dx * xc[j];
  }
  {
    const T mean_d = sum_d / T(H), mean_dx = sum_dx / T(H), rstd = r[1];
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T i = s[j], f = s[H + j], g = s[2 * H + j];
      const T grad_c = d_c[j] + rstd * (d_cn[j] - mean_d - xc[j] * mean_dx);
      a[j] = grad_c * g * i * (T(1) - i);
      a[H + j] = grad_c * c[j] * f * (T(1) - f);
      a[2 * H + j] = grad_c * i * (T(1) - g * g);
      d_c[j] = grad_c * f;
      d_h[j] = 0;  // h_{t-1} reaches step t only through W_hh: added by the caller's GEMM
    }
  }
  const T mean_p = r[3], rstd_i = r[2];
  T sum_dh = 0, sum_dxh = 0, sum_di = 0, sum_dxi = 0;
#pragma omp simd reduction(+ : sum_dh, sum_dxh, sum_di, sum_dxi)
  for (int64_t j = 0; j < G * H; ++j) {
    const T x_i = (p[j] - mean_p) * rstd_i;
    d_shift[j] += a[j];
    d_gain_hh[j] += a[j] * xh[j];
    d_gain_ih[j] += a[j] * x_i;
    const T dx_h = a[j] * a_hh[j], dx_i = a[j] * a_ih[j];
    sum_dh += dx_h; sum_dxh += dx_h * xh[j];
    sum_di += dx_i; sum_dxi += dx_i * x_i;
  }
  const T n = T(G * H);
  const T mean_dh = sum_dh / n, mean_dxh = sum_dxh / n, rstd_h = r[0];
  const T mean_di = sum_di / n, mean_dxi = sum_dxi / n;
#pragma omp simd
  for (int64_t j = 0; j < G * H; ++j) {
    const T a_j = a[j], x_i = (p[j] - mean_p) * rstd_i;
    du[j] = rstd_h * (a_j * a_hh[j] - mean_dh - xh[j] * mean_dxh);
    dp[j] = rstd_i * (a_j * a_ih[j] - mean_di - x_i * mean_dxi);
  }
}

std::vector<at::Tensor> ln_lstm_forward(
    const at::Tensor& p, const at::Tensor& h0, const at::Tensor& c0, const at::Tensor& w_hh,
    const at::Tensor& gamma_ih, const at::Tensor& shift, const at::Tensor& gamma_hh,
    const at::Tensor& gamma_c, const at::Tensor& beta_c, double eps_ih, double eps_hh,
    double eps_c, const c10::optional<at::Tensor>& lengths,
    const c10::optional<at::Tensor>& rmask, bool save) {
  const int64_t T = p.size(0), B = p.size(1), H = h0.size(1), G = 4;
  const Storage keep{save, T, B, p.options()};
  auto hs = keep.states(H);
  auto cs = keep.states(H);
  hs[0].copy_(h0);
  cs[0].copy_(c0);
  auto out = at::empty({T, B, H}, p.options());
  auto gates = keep.steps(G * H);    // σ(i), σ(f), tanh(g), σ(o)
  auto xhat_hh = keep.steps(G * H);  // (padded rows: never read)
  auto xhat_c = keep.steps(H);
  auto tls = keep.steps(H);           // tanh(LN(c_t))
  auto rstd = keep.steps(4).zero_();  // 1/σ of the three norms, the mean of p
  auto u = at::empty({B, G * H}, p.options());
  auto masked = at::empty({B, H}, p.options());
  const StepWeight w_t(w_hh, /*transposed=*/true);
  const Lengths len = lengths_of(lengths);
  const Eps eps{eps_ih, eps_hh, eps_c};
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "rnnlab_ln_lstm_forward", [&] {
    const scalar_t* a_ih = gamma_ih.data_ptr<scalar_t>();
    const scalar_t* a_hh = gamma_hh.data_ptr<scalar_t>();
    const scalar_t* add = shift.data_ptr<scalar_t>();
    const scalar_t* a_c = gamma_c.data_ptr<scalar_t>();
    const scalar_t* b_c = beta_c.data_ptr<scalar_t>();
    for (int64_t t = 0; t < T; ++t) {
      w_t.gemm(u, recurrent_input(hs[keep.state(t)], rmask, masked), /*accumulate=*/false);
      const scalar_t* p_t = p.data_ptr<scalar_t>() + t * B * G * H;
      const scalar_t* u_t = u.data_ptr<scalar_t>();
      at::parallel_for(0, B, kRowGrain, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          const int64_t row = t * B + b;                      // in out
          const int64_t slot = keep.step(t) * B + b;          // in the per-step values
          const int64_t from = keep.state(t) * B + b, to = keep.state(t + 1) * B + b;
          const scalar_t* __restrict__ h = hs.data_ptr<scalar_t>() + from * H;
          const scalar_t* __restrict__ c = cs.data_ptr<scalar_t>() + from * H;
          scalar_t* __restrict__ h_new = hs.data_ptr<scalar_t>() + to * H;
          scalar_t* __restrict__ c_new = cs.data_ptr<scalar_t>() + to * H;
          scalar_t* __restrict__ y = out.data_ptr<scalar_t>() + row * H;
          if (!len.real(b, t)) {
            for (int64_t j = 0; j < H; ++j) { h_new[j] = h[j]; c_new[j] = c[j]; y[j] = 0; }
            continue;
          }
          const LnSaved<scalar_t> saved{gates.data_ptr<scalar_t>() + slot * G * H,
                                        xhat_hh.data_ptr<scalar_t>() + slot * G * H,
                                        xhat_c.data_ptr<scalar_t>() + slot * H,
                                        tls.data_ptr<scalar_t>() + slot * H,
                                        rstd.data_ptr<scalar_t>() + slot * 4};
          ln_lstm_row_forward(H, p_t + b * G * H, u_t + b * G * H, c, a_ih, a_hh, add, a_c,
                              b_c, eps, h_new, c_new, y, saved);
        }
      });
    }
  });
  return {out, hs[keep.state(T)], cs[keep.state(T)], gates, xhat_hh, xhat_c, tls, rstd, hs,
          cs};
}

std::vector<at::Tensor> ln_lstm_backward(
    const at::Tensor& d_out, const at::Tensor& d_hn, const at::Tensor& d_cn,
    const at::Tensor& gates, const at::Tensor& p, const at::Tensor& xhat_hh,
    const at::Tensor& xhat_c, const at::Tensor& tls, const at::Tensor& rstd,
    const at::Tensor& hs, const at::Tensor& cs, const at::Tensor& w_hh,
    const at::Tensor& gamma_ih, const at::Tensor& gamma_hh, const at::Tensor& gamma_c,
    const c10::optional<at::Tensor>& lengths, const c10::optional<at::Tensor>& rmask) {
  const int64_t T = gates.size(0), B = gates.size(1), H = hs.size(2), G = 4;
  auto dh = d_hn.clone();
  auto dc = d_cn.clone();
  auto d_p = at::empty({T, B, G * H}, gates.options());    // gradient of p = x W_ih^T
  auto d_u = at::empty({T, B, G * H}, gates.options());    // ... of u = h W_hh^T
  const int64_t width = 3 * G * H + 2 * H;
  auto sums = at::zeros({B, width}, gates.options());  // per row, see the row
  auto scratch = at::empty({B, H}, gates.options());
  auto through = at::empty({B, H}, gates.options());
  const StepWeight w(w_hh, /*transposed=*/false);
  const Lengths len = lengths_of(lengths);
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnlab_ln_lstm_backward", [&] {
    const scalar_t* a_ih = gamma_ih.data_ptr<scalar_t>();
    const scalar_t* a_hh = gamma_hh.data_ptr<scalar_t>();
    const scalar_t* a_c = gamma_c.data_ptr<scalar_t>();
    for (int64_t t = T - 1; t >= 0; --t) {
      at::parallel_for(0, B, kRowGrain, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          const int64_t row = t * B + b;
          scalar_t* __restrict__ dp = d_p.data_ptr<scalar_t>() + row * G * H;
          scalar_t* __restrict__ du = d_u.data_ptr<scalar_t>() + row * G * H;
          if (!len.real(b, t)) {
            for (int64_t j = 0; j < G * H; ++j) { dp[j] = 0; du[j] = 0; }
            continue;
          }
          ln_lstm_row_backward(
              H, gates.data_ptr<scalar_t>() + row * G * H,
              p.data_ptr<scalar_t>() + row * G * H,
              xhat_hh.data_ptr<scalar_t>() + row * G * H, xhat_c.data_ptr<scalar_t>() + row * H,
              tls.data_ptr<scalar_t>() + row * H, rstd.data_ptr<scalar_t>() + row * 4,
              cs.data_ptr<scalar_t>() + row * H, d_out.data_ptr<scalar_t>() + row * H, a_ih,
              a_hh, a_c, dh.data_ptr<scalar_t>() + b * H, dc.data_ptr<scalar_t>() + b * H, dp,
              du, scratch.data_ptr<scalar_t>() + b * H,
              sums.data_ptr<scalar_t>() + b * width);
        }
      });
      add_state_gradient(dh, d_u[t], w, rmask, through);
    }
  });
  auto d_w = recurrent_weight_gradient(d_u, hs, rmask);
  const auto totals = sums.sum(0);
  return {d_p, dh, dc, d_w, totals.narrow(0, 0, G * H), totals.narrow(0, 2 * G * H, G * H),
          totals.narrow(0, G * H, G * H), totals.narrow(0, 3 * G * H, H),
          totals.narrow(0, 3 * G * H + H, H)};
}


// ------------------------------------------------------------- user cells' updates --------
// The time loop of a user cell that splits its step (rnnlab/core/split_step.py), with the
// cell's elementwise update (and its VJP) as a loop generated from its traced graph and
// compiled apart (rnnlab/core/update_codegen.py): `fn` is the address of that loop,
//   void fn(int64_t rows, const uint8_t* alive, const void* const* in, const int64_t* in_ld,
//           void* const* out, const int64_t* out_ld)
// which skips rows whose alive byte is 0, writes row results and adds per-feature (parameter
// gradient) results to what their buffers hold. Per step: the recurrent product by brgemm
// into the step's slot of `products`, then fn; rows past their length keep their state and
// output zero, as in the kernels above.
using FusedUpdate = void (*)(int64_t, const uint8_t*, const void* const*, const int64_t*,
                             void* const*, const int64_t*);

// The argument (or result) arrays of one call of the loop: each tensor's data and its row
// stride, derived from the tensor (a (rows, width) slice's, 0 for a parameter vector or
// scalar, which the loop reads the same for every row).
struct LoopArgs {
  std::vector<void*> data;
  std::vector<int64_t> ld;
  void clear() { data.clear(); ld.clear(); }
  void add(const at::Tensor& t) {
    data.push_back(t.data_ptr());
    ld.push_back(t.dim() == 2 ? t.stride(0) : 0);
  }
};

// Rows with alive == 0 get `from`'s row (or zero where from is undefined) in `to`.
void copy_dead_rows(const uint8_t* alive, int64_t B, at::Tensor& to, const at::Tensor& from) {
  const int64_t width = to.size(1), bytes = width * to.element_size();
  char* dst = static_cast<char*>(to.data_ptr());
  const char* src = from.defined() ? static_cast<const char*>(from.data_ptr()) : nullptr;
  for (int64_t r = 0; r < B; ++r) {
    if (alive[r]) continue;
    if (src != nullptr) {
      std::memcpy(dst + r * bytes, src + r * bytes, bytes);
    } else {
      std::memset(dst + r * bytes, 0, bytes);
    }
  }
}

void check_contiguous(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.is_contiguous(), "rnnlab split runner: ", name, " must be contiguous");
}

// Returns outputs (T, B, out_width), then for the backward pass (save) the step products
// (T, B, G) and each state part at every step (T + 1, B, width), or without save one step's
// scratch and two slots per part; then the final state parts.
std::vector<at::Tensor> split_forward(int64_t fn, const at::Tensor& projected,
                                      const at::Tensor& w_hh, const c10::optional<at::Tensor>& b_hh,
                                      at::TensorList start, at::TensorList params,
                                      const c10::optional<at::Tensor>& alive,
                                      const c10::optional<at::Tensor>& rmask, int64_t out_width,
                                      bool parts, bool save) {
  check_contiguous(projected, "projected");
  const int64_t T = projected.size(0), B = projected.size(1), G = w_hh.size(0);
  const Storage keep{save, T, B, projected.options()};
  auto out = at::empty({T, B, out_width}, projected.options());
  auto products = keep.steps(G);
  std::vector<at::Tensor> states;
  for (const auto& part : start) {
    states.push_back(keep.states(part.size(1)));
    states.back()[0].copy_(part);
  }
  auto masked = at::empty({B, w_hh.size(1)}, projected.options());
  const StepWeight w_t(w_hh, /*transposed=*/true);
  const auto update = reinterpret_cast<FusedUpdate>(fn);
  const uint8_t* alive_data = has(alive) ? alive->data_ptr<uint8_t>() : nullptr;
  LoopArgs in, result;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t now = keep.state(t), next = keep.state(t + 1);
    auto product = products[keep.step(t)];
    const auto h_in = recurrent_input(states[0][now], rmask, masked);
    if (parts) {
      recurrent_gemm(product, h_in, w_t, b_hh);
    } else {
      product.copy_(projected[t]);
      w_t.gemm(product, h_in, /*accumulate=*/true);
    }
    in.clear(); result.clear();
    if (parts) in.add(projected[t]);
    in.add(product);
    for (auto& part : states) in.add(part[now]);
    for (const auto& value : params) in.add(value);
    auto out_t = out[t];
    result.add(out_t);
    for (auto& part : states) result.add(part[next]);
    const uint8_t* alive_t = alive_data == nullptr ? nullptr : alive_data + t * B;
    update(B, alive_t, in.data.data(), in.ld.data(), result.data.data(), result.ld.data());
    if (alive_t != nullptr) {
      copy_dead_rows(alive_t, B, out_t, at::Tensor());
      for (auto& part : states) {
        auto to = part[next];
        copy_dead_rows(alive_t, B, to, part[now]);
      }
    }
  }
  std::vector<at::Tensor> returned{out, products};
  returned.insert(returned.end(), states.begin(), states.end());
  for (auto& part : states) returned.push_back(part[keep.state(T)].clone());
  return returned;
}

// Returns d_projected, d_w_hh, d_b_hh (empty without a bias), the start state's gradients,
// then the parameters' (summed over steps).
std::vector<at::Tensor> split_backward(int64_t fn, const at::Tensor& d_out,
                                       at::TensorList d_finals,
                                       const c10::optional<at::Tensor>& projected,
                                       const at::Tensor& products, const at::Tensor& w_hh,
                                       bool has_bias, at::TensorList states,
                                       at::TensorList params,
                                       const c10::optional<at::Tensor>& alive,
                                       const c10::optional<at::Tensor>& rmask) {
  check_contiguous(d_out, "d_out");
  const bool parts = has(projected);
  const int64_t T = products.size(0), B = products.size(1), G = products.size(2);
  const auto options = products.options();
  auto d_products = at::empty({T, B, G}, options);
  auto d_projected = parts ? at::empty_like(*projected) : d_products;
  std::vector<at::Tensor> d_state, d_next, d_params;
  for (const auto& grad : d_finals) {
    d_state.push_back(grad.clone(at::MemoryFormat::Contiguous));
    d_next.push_back(at::empty_like(d_state.back()));
  }
  for (const auto& value : params) d_params.push_back(at::zeros_like(value));
  auto through = at::empty({B, w_hh.size(1)}, options);
  const StepWeight w(w_hh, /*transposed=*/false);
  const auto vjp = reinterpret_cast<FusedUpdate>(fn);
  const uint8_t* alive_data = has(alive) ? alive->data_ptr<uint8_t>() : nullptr;
  LoopArgs in, result;
  for (int64_t t = T - 1; t >= 0; --t) {
    in.clear(); result.clear();
    if (parts) in.add((*projected)[t]);
    in.add(products[t]);
    for (const auto& part : states) in.add(part[t]);
    for (const auto& value : params) in.add(value);
    in.add(d_out[t]);
    for (const auto& grad : d_state) in.add(grad);
    auto d_product = d_products[t];
    auto d_lead = d_projected[t];
    if (parts) result.add(d_lead);
    result.add(d_product);
    for (auto& grad : d_next) result.add(grad);
    for (auto& grad : d_params) result.add(grad);
    const uint8_t* alive_t = alive_data == nullptr ? nullptr : alive_data + t * B;
    vjp(B, alive_t, in.data.data(), in.ld.data(), result.data.data(), result.ld.data());
    if (alive_t != nullptr) {  // padded rows: no gradient to the step, the state's passes
      copy_dead_rows(alive_t, B, d_product, at::Tensor());
      if (parts) copy_dead_rows(alive_t, B, d_lead, at::Tensor());
      for (size_t k = 0; k < d_next.size(); ++k) copy_dead_rows(alive_t, B, d_next[k], d_state[k]);
    }
    add_state_gradient(d_next[0], d_product, w, rmask, through);
    std::swap(d_state, d_next);
  }
  auto d_w = recurrent_weight_gradient(d_products, states[0], rmask);
  auto d_b = has_bias ? d_products.sum({0, 1}) : at::Tensor();
  std::vector<at::Tensor> returned{d_projected, d_w, d_b};
  returned.insert(returned.end(), d_state.begin(), d_state.end());
  returned.insert(returned.end(), d_params.begin(), d_params.end());
  return returned;
}
}  // namespace

TORCH_LIBRARY(rnnlab, m) {
  m.def("gru_forward(Tensor gi, Tensor h0, Tensor w_hh, Tensor? b_hh, Tensor? lengths, "
        "Tensor? rmask, bool save=True) -> Tensor[]");
  m.def("gru_backward(Tensor d_out, Tensor d_hn, Tensor gates, Tensor hs, Tensor w_hh, "
        "Tensor? lengths, Tensor? rmask) -> Tensor[]");
  m.def("lstm_forward(int kind, Tensor gi, Tensor h0, Tensor c0, Tensor w_hh, Tensor? b_hh, "
        "Tensor? peephole, Tensor? lengths, Tensor? rmask, bool save=True) -> Tensor[]");
  m.def("lstm_backward(int kind, Tensor d_out, Tensor d_hn, Tensor d_cn, Tensor gates, "
        "Tensor tcs, Tensor hs, Tensor cs, Tensor w_hh, Tensor? peephole, Tensor? lengths, "
        "Tensor? rmask) -> Tensor[]");
  m.def("ln_lstm_forward(Tensor p, Tensor h0, Tensor c0, Tensor w_hh, Tensor gamma_ih, "
        "Tensor shift, Tensor gamma_hh, Tensor gamma_c, Tensor beta_c, float eps_ih, "
        "float eps_hh, float eps_c, Tensor? lengths, Tensor? rmask, bool save=True) "
        "-> Tensor[]");
  m.def("ln_lstm_backward(Tensor d_out, Tensor d_hn, Tensor d_cn, Tensor gates, "
        "Tensor p, Tensor xhat_hh, Tensor xhat_c, Tensor tls, Tensor rstd, Tensor hs, "
        "Tensor cs, Tensor w_hh, Tensor gamma_ih, Tensor gamma_hh, Tensor gamma_c, "
        "Tensor? lengths, Tensor? rmask) -> Tensor[]");
  m.def("split_forward(int fn, Tensor projected, Tensor w_hh, Tensor? b_hh, Tensor[] start, "
        "Tensor[] params, Tensor? alive, Tensor? rmask, int out_width, bool parts, "
        "bool save=True) -> Tensor[]");
  m.def("split_backward(int fn, Tensor d_out, Tensor[] d_finals, Tensor? projected, "
        "Tensor products, Tensor w_hh, bool has_bias, Tensor[] states, Tensor[] params, "
        "Tensor? alive, Tensor? rmask) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(rnnlab, CPU, m) {
  m.impl("gru_forward", &gru_forward);
  m.impl("gru_backward", &gru_backward);
  m.impl("lstm_forward", &lstm_forward);
  m.impl("lstm_backward", &lstm_backward);
  m.impl("ln_lstm_forward", &ln_lstm_forward);
  m.impl("ln_lstm_backward", &ln_lstm_backward);
  m.impl("split_forward", &split_forward);
  m.impl("split_backward", &split_backward);
}

}  // namespace rnnlab_kernels
