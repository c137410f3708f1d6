#pragma once
// The CPU kernel behind conv_relu_bn_maxpool (models/fused.hpp): conv (stride 1, zero padding) → ReLU →
// per-channel affine → max-pool, computed a few samples at a time so that the full-resolution maps never
// leave the cache. Plain C++ on float pointers (no LibTorch), so that it compiles in seconds and can be
// built for several instruction sets (AVX-512, AVX2, baseline) with the best chosen at run time.
//
// Why it can skip the full-resolution maps: batch norm's output is an affine function of the ReLU output
// with one scale per channel, and an affine map with a positive scale keeps the window's maximum where it
// was (a negative one moves it to the minimum). So the forward pass keeps only each window's selected
// ReLU value and its position, plus the channel sums the batch statistics need; the backward pass
// recomputes the convolution, which costs less than storing and re-reading the maps.
#include <cstdint>

namespace mer::kernels {

struct ConvPoolShape {
  int n = 0, cin = 0, h = 0, w = 0;  ///< input [n, cin, h, w]
  int cout = 0, k = 0, pad = 0;      ///< conv k × k, stride 1, `pad` zeros each side
  int pool_k = 1, pool_s = 1, pool_pad = 0;
  int ho() const { return h + 2 * pad - k + 1; }
  int wo() const { return w + 2 * pad - k + 1; }
  int hp() const { return (ho() + 2 * pool_pad - pool_k) / pool_s + 1; }
  int wp() const { return (wo() + 2 * pool_pad - pool_k) / pool_s + 1; }
};

/// Which ReLU value of a window the pooled output takes, per channel: the one that maximises
/// scale · r + shift. kLargest for scale > 0, kSmallest for scale < 0, kFirst for scale 0 (every value maps
/// to the same output, and max-pool then reports the window's first position).
enum class Select : std::uint8_t { kLargest, kSmallest, kFirst };

struct ConvPoolForward {
  const float* x = nullptr;     ///< [n, cin, h, w]
  const float* w = nullptr;     ///< [cout, cin, k, k]
  const float* b = nullptr;     ///< [cout] or null
  const Select* select = nullptr;  ///< [cout]
  float* value = nullptr;       ///< [n, cout, hp, wp] the selected ReLU value
  std::int32_t* index = nullptr;  ///< [n, cout, hp, wp] its position, as an offset into the kernel's map
                                  ///< layout (row · map_stride(s) + column), for the backward pass only
  double* sum = nullptr;        ///< [cout] += Σ r over the samples' maps, or null
  double* sum_sq = nullptr;     ///< [cout] += Σ r², or null
};

/// Samples [n0, n1) of the forward pass. Adds to sum / sum_sq (not thread-safe: one range per caller).
/// Within a window, equal values are resolved column first (LibTorch's max-pool: row first). That can
/// route a gradient to a different one of two equal ReLU outputs: for zeros it changes nothing (the ReLU
/// stops it), and equal positive floats in one window do not occur in practice.
void conv_relu_pool_forward(const ConvPoolShape& s, const ConvPoolForward& a, int n0, int n1);

struct ConvPoolBackward {
  const float* x = nullptr;
  const float* w = nullptr;
  const float* b = nullptr;
  const float* grad = nullptr;          ///< [n, cout, hp, wp] gradient of the pooled output
  const std::int32_t* index = nullptr;  ///< from the forward pass
  /// Per channel: the gradient reaching the ReLU output at a position is
  /// scale · (sum of the pooled gradients that selected it) + shift + slope · r.
  /// (Batch statistics make every position depend on every other through the mean and variance: that
  /// is the shift and slope; with fixed statistics both are 0.)
  const double* scale = nullptr;
  const double* shift = nullptr;
  const double* slope = nullptr;
  float* dw = nullptr;  ///< [cout, cin, k, k] +=
  float* db = nullptr;  ///< [cout] += , or null
  float* dx = nullptr;  ///< [n, cin, h, w] written for the range, or null
};

/// Samples [n0, n1) of the backward pass. Adds to dw / db (one range per caller).
void conv_relu_pool_backward(const ConvPoolShape& s, const ConvPoolBackward& a, int n0, int n1);

/// out[i, c, :] = value[i, c, :] · alpha[c] + offset[c] for `n` samples of `cout` channels of `pooled` values:
/// batch norm applied to the selected values.
void affine_channels(const float* value, const float* alpha, const float* offset, int n, int cout, int pooled,
                     float* out);

/// Per channel, adds Σ g to sum_g and Σ g · (value - mean[c]) to sum_gv over n samples of `pooled` values.
void pooled_grad_sums(const float* g, const float* value, const double* mean, int n, int cout, int pooled,
                      double* sum_g, double* sum_gv);

}  // namespace mer::kernels
